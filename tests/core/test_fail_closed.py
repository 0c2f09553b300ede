"""Fail closed: when the target is the sandbox, no request leaves the machine.

Every socket to an address off this machine (and every name lookup of such a host)
is refused by ``tests/no_remote`` and recorded; each test asserts that none was
attempted. The last tests run the real ``chaos run`` with the same guard loaded
as ``sitecustomize``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosthundra import actions, aws, probes
from chaosthundra.load import probes as load_probes
from tests.core.conftest import REGION
from tests.core.recording_proxy import RecordingProxy
from tests.no_remote.sitecustomize import install

GUARD = Path(__file__).resolve().parents[1] / "no_remote"
HOST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAHOSTCREDENTIAL01", "AWS_SECRET_ACCESS_KEY": "host"}
OFF_MACHINE = ["https://lambda.us-east-1.amazonaws.com", "http://10.20.30.40:4566"]

# Each activity of the two faces, with the arguments it needs besides the function name.
ACTIVITIES: dict[str, tuple[Callable[..., Any], dict]] = {
    "enable_error_injection": (actions.enable_error_injection, {"class_name": "Redis"}),
    "disable_error_injection": (actions.disable_error_injection, {}),
    "enable_latency_injection": (
        actions.enable_latency_injection,
        {"class_name": "Redis", "delay": 100},
    ),
    "disable_latency_injection": (actions.disable_latency_injection, {}),
    "remove_all_injections": (actions.remove_all_injections, {}),
    "invoke_function": (probes.invoke_function, {}),
    "invocation_succeeds": (probes.invocation_succeeds, {}),
    "invocation_completes_within": (probes.invocation_completes_within, {"seconds": 1}),
    "list_injections": (probes.list_injections, {}),
    "injected_span_count": (probes.injected_span_count, {}),
    "measure_invocations": (probes.measure_invocations, {"count": 1, "concurrency": 1}),
    "measure_load": (load_probes.measure_load, {"users": 1, "duration": 1}),
}


@pytest.fixture
def off_machine(monkeypatch) -> Iterator[list[str]]:
    """Refuse sockets off this machine; yields the attempts, which must stay empty.

    The host has credentials in its environment, and no endpoint is set anywhere."""
    for name in ("AWS_ENDPOINT_URL", "CHAOSTHUNDRA_SANDBOX_URL", "CHAOSTHUNDRA_TARGET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in HOST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    attempts: list[str] = []
    uninstall = install(attempts.append)
    try:
        yield attempts
    finally:
        uninstall()


def test_every_activity_is_covered():
    assert set(ACTIVITIES) == set(actions.__all__) | set(probes.__all__) | {"measure_load"}
    assert load_probes.__all__ == ["measure_load"]


def test_the_guard_refuses_a_socket_off_the_machine(off_machine):
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("lambda.us-east-1.amazonaws.com", 443), timeout=1)
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("10.20.30.40", 443))
    assert off_machine == [
        "getaddrinfo 'lambda.us-east-1.amazonaws.com'",
        "connect ('10.20.30.40', 443)",
    ]


@pytest.mark.parametrize("said_by", ["configuration", "environment"])
@pytest.mark.parametrize("activity", sorted(ACTIVITIES))
def test_target_sandbox_without_a_sandbox_refuses_every_activity(
    monkeypatch, off_machine, activity, said_by
):
    configuration: dict[str, Any] = {"aws_region": "us-east-1"}
    if said_by == "configuration":
        configuration["target"] = "sandbox"
    else:
        monkeypatch.setenv("CHAOSTHUNDRA_TARGET", "sandbox")
    func, arguments = ACTIVITIES[activity]
    with pytest.raises(InterruptExecution) as raised:
        func("user-get", configuration=configuration, **arguments)
    message = str(raised.value)
    assert "chaosthundra.controls.sandbox" in message
    assert "CHAOSTHUNDRA_SANDBOX_URL" in message
    assert "\n" not in message
    assert off_machine == []


@pytest.mark.parametrize("endpoint", OFF_MACHINE)
@pytest.mark.parametrize("given_in", ["configuration", "AWS_ENDPOINT_URL", "SANDBOX_URL"])
def test_an_endpoint_off_the_machine_is_refused_for_the_sandbox(
    monkeypatch, off_machine, endpoint, given_in
):
    configuration: dict[str, Any] = {"aws_region": "us-east-1", "target": "sandbox"}
    if given_in == "configuration":
        configuration["aws_endpoint_url"] = endpoint
    elif given_in == "AWS_ENDPOINT_URL":
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    else:
        monkeypatch.setenv("CHAOSTHUNDRA_SANDBOX_URL", endpoint)
    with pytest.raises(InterruptExecution) as raised:
        probes.invoke_function("user-get", configuration=configuration)
    assert endpoint in str(raised.value)
    assert "not on this machine" in str(raised.value)
    assert off_machine == []


def test_an_endpoint_off_the_machine_is_refused_when_the_control_marked_the_run(off_machine):
    configuration = {
        "aws_region": "us-east-1",
        "chaosthundra_sandbox": True,
        "aws_endpoint_url": OFF_MACHINE[1],
    }
    with pytest.raises(InterruptExecution, match="not on this machine"):
        probes.list_injections("user-get", configuration=configuration)
    assert off_machine == []


def test_an_unknown_target_is_refused(off_machine):
    with pytest.raises(InterruptExecution) as raised:
        probes.invoke_function("user-get", configuration={"aws_region": REGION, "target": "prod"})
    assert "target 'prod'" in str(raised.value)
    assert off_machine == []


@pytest.mark.parametrize("how", ["CHAOSTHUNDRA_SANDBOX_URL", "AWS_ENDPOINT_URL"])
def test_target_sandbox_with_a_loopback_endpoint_uses_it_with_dummy_credentials(
    monkeypatch, off_machine, moto_endpoint, make_function, how
):
    name = make_function()
    proxy = RecordingProxy(moto_endpoint).start()
    try:
        monkeypatch.setenv(how, proxy.url)
        configuration = {"aws_region": REGION, "target": "sandbox"}
        secrets = {"aws_access_key_id": "AKIACONFIGUREDSECRET", "aws_secret_access_key": "s"}
        actions.enable_error_injection(
            name, class_name="Redis", configuration=configuration, secrets=secrets
        )
        assert [i["name"] for i in probes.list_injections(name, configuration=configuration)] == [
            "error"
        ]
        actions.remove_all_injections(name, configuration=configuration)
        keys = set(proxy.access_keys())
    finally:
        proxy.stop()
    assert keys == {aws.SANDBOX_CREDENTIALS["aws_access_key_id"]}
    assert off_machine == []


# ------------------------------------------------------------- the real chaos run
def _experiment(tmp_path: Path, target: str) -> Path:
    invoke = {
        "type": "python",
        "module": "chaosthundra.probes",
        "func": "invocation_succeeds",
        "arguments": {"function_name": "user-get"},
    }
    experiment = {
        "version": "1.0.0",
        "title": "a forgotten sandbox control",
        "description": "target sandbox, and nothing that provides one",
        "configuration": {"aws_region": "us-east-1", "target": target},
        "steady-state-hypothesis": {
            "title": "user-get answers",
            "probes": [{"type": "probe", "name": "answers", "tolerance": True, "provider": invoke}],
        },
        "method": [
            {
                "type": "action",
                "name": "break-redis",
                "provider": {
                    "type": "python",
                    "module": "chaosthundra.actions",
                    "func": "enable_error_injection",
                    "arguments": {"function_name": "user-get", "class_name": "Redis"},
                },
            }
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "remove",
                "provider": {
                    "type": "python",
                    "module": "chaosthundra.actions",
                    "func": "remove_all_injections",
                    "arguments": {"function_name": "user-get"},
                },
            }
        ],
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment, indent=2))
    return path


def _guarded_env(tmp_path: Path, attempts: Path, **extra: str) -> dict[str, str]:
    """A child's environment: host credentials, and the guard that records in ``attempts``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(GUARD),
        "CHAOSTHUNDRA_TEST_NO_REMOTE": str(attempts),
        **HOST_CREDENTIALS,
        **extra,
    }


def _chaos_run(tmp_path: Path, target: str) -> tuple[dict, list[str], list[str]]:
    """The journal, the log lines above DEBUG and the attempts to leave the machine."""
    attempts = tmp_path / "attempts.log"
    journal = tmp_path / "journal.json"
    log = tmp_path / "chaos.log"
    env = _guarded_env(tmp_path, attempts)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "chaos"), "--no-version-check", "--log-file",
         str(log), "run", "--journal-path", str(journal), str(_experiment(tmp_path, target))],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert journal.exists(), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    recorded = attempts.read_text().splitlines() if attempts.exists() else []
    # a record starts with "[time LEVEL]"; the lines of a DEBUG record's traceback do not
    records = [line for line in log.read_text().splitlines() if line.lstrip().startswith("\x1b")]
    return json.loads(journal.read_text()), [r for r in records if "DEBUG]" not in r], recorded


@pytest.mark.e2e
def test_chaos_run_with_target_sandbox_and_no_control_never_leaves_the_machine(tmp_path):
    journal, records, attempts = _chaos_run(tmp_path, "sandbox")
    assert attempts == []
    # The method never runs. chaostoolkit-lib 1.44 (what pip gives Python 3.11) turns the
    # probe's InterruptExecution into a failed activity: the steady state is not met,
    # the run "failed", the refusal logged at ERROR. 1.45 (Python 3.12+) lets it
    # interrupt the run: "interrupted", logged at CRITICAL.
    interrupts = tuple(map(int, version("chaostoolkit-lib").split(".")[:2])) >= (1, 45)
    expected, level = ("interrupted", "CRITICAL]") if interrupts else ("failed", "ERROR]")
    assert journal["status"] == expected, journal["status"]
    assert journal["run"] == []
    (refused,) = [r for r in records if level in r]
    assert "chaosthundra.controls.sandbox" in refused
    assert "CHAOSTHUNDRA_SANDBOX_URL" in refused


@pytest.mark.e2e
def test_the_guard_is_live_in_chaos_run(tmp_path):
    """The same run aimed at AWS does try to leave the machine: the guard sees it."""
    _, _, attempts = _chaos_run(tmp_path, "aws")
    assert any("amazonaws.com" in a for a in attempts), attempts


@pytest.mark.parametrize("command", [["status"], ["clear", "--yes"]])
def test_the_cli_with_target_sandbox_and_no_sandbox_never_leaves_the_machine(tmp_path, command):
    attempts = tmp_path / "attempts.log"
    env = _guarded_env(tmp_path, attempts, CHAOSTHUNDRA_TARGET="sandbox", AWS_REGION="us-east-1")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "chaosthundra"), *command],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "chaosthundra.controls.sandbox" in lines[0] and "CHAOSTHUNDRA_SANDBOX_URL" in lines[0]
    assert not attempts.exists(), attempts.read_text()
