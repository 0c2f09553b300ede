"""An enable interrupted while Lambda makes it live leaves no injection behind.

The real `chaos` CLI against the session sandbox, whose updates stay InProgress
for 2 s here. The test polls the function until our variable is on it and
LastUpdateStatus is InProgress (the action is then waiting for the change to go
live), and only then delivers the signal. A wait that fails is a real one too:
`chaosthundra_enable_timeout_seconds` of 1 is shorter than the 2 s update.
`--rollback-strategy never`, so only the safeguard control's ledger can undo it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from chaosthundra.aws import client
from chaosthundra.function_env import variables_of
from chaosthundra.listeners import is_ours
from tests.e2e.conftest import BIN
from tests.sandbox_functions import create_function

UPDATE_DELAY_MS = 2000
VOLATILE = ("ResponseMetadata", "RevisionId", "LastModified", "LastUpdateStatus")


@pytest.fixture
def lam(sandbox_configuration):
    return client("lambda", sandbox_configuration)


@pytest.fixture
def function(sandbox_configuration) -> str:
    """A function instrumented the layer way, created before updates are slowed down."""
    return create_function(
        sandbox_configuration,
        "interrupt",
        {"app.py": "def handler(event, context):\n    return event\n"},
        Handler="thundra.handler.wrapper",
        Environment={"Variables": {"KEEP": "me", "THUNDRA_APIKEY": "dummy"}},
    )


@pytest.fixture
def slow_updates(sandbox) -> Iterator[int]:
    """Lambda updates of the session sandbox stay InProgress for 2 s, for this test only."""
    before = sandbox.update_delay_ms
    sandbox.update_delay_ms = UPDATE_DELAY_MS
    yield UPDATE_DELAY_MS
    sandbox.update_delay_ms = before


def _experiment(tmp_path: Path, sandbox, function: str, **configuration) -> Path:
    data = {
        "title": "An enable interrupted while the change goes live",
        "description": "Enables an error injection; the test interrupts it.",
        "configuration": {
            "aws_endpoint_url": sandbox.endpoint_url,
            "aws_region": sandbox.region,
            "chaosthundra_sandbox": True,
            **configuration,
        },
        "controls": [
            {
                "name": "chaosthundra-safeguard",
                "provider": {"type": "python", "module": "chaosthundra.controls.safeguard"},
            }
        ],
        "method": [
            {
                "type": "action",
                "name": "enable-redis-error",
                "provider": {
                    "type": "python",
                    "module": "chaosthundra.actions",
                    "func": "enable_error_injection",
                    "arguments": {"function_name": function, "class_name": "Redis"},
                },
            }
        ],
        "rollbacks": [],
    }
    path = tmp_path / "interrupted-enable.json"
    path.write_text(json.dumps(data))
    return path


def _snapshot(lam, function: str) -> dict:
    config = lam.get_function_configuration(FunctionName=function)
    return {k: v for k, v in config.items() if k not in VOLATILE}


def _wait_until_going_live(lam, run, function: str, timeout: float = 60) -> None:
    """Until our variable is on the function and its update is still InProgress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        config = lam.get_function_configuration(FunctionName=function)
        ours = [k for k in variables_of(config) if is_ours(k)]
        if ours and config.get("LastUpdateStatus") == "InProgress":
            return
        if run.proc.poll() is not None:
            raise AssertionError(f"chaos exited before the update was seen InProgress: {config}")
        time.sleep(0.05)
    raise AssertionError(f"no InProgress update with our variable within {timeout} s")


def _signalled_while_going_live(tmp_path, sandbox, lam, function: str, run_chaos, signum: int):
    """A run of the experiment, sent ``signum`` while its enable waits for InProgress."""
    run = run_chaos(_experiment(tmp_path, sandbox, function), "--rollback-strategy", "never")
    _wait_until_going_live(lam, run, function)
    run.signal(signum)
    return run


def _swept_while_pending(function: str) -> str:
    return (
        f"chaosthundra safeguard: removed error injection 'error' from '{function}' "
        "(pending: its enable never completed)"
    )


def _settled(lam, function: str) -> dict:
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)
    return _snapshot(lam, function)


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_enable_waits_leaves_nothing(
    tmp_path, sandbox, lam, function, slow_updates, run_chaos, signum
):
    before = _snapshot(lam, function)
    run = _signalled_while_going_live(tmp_path, sandbox, lam, function, run_chaos, signum)
    run.wait(timeout=120)
    assert run.journal["status"] == "interrupted"
    assert _settled(lam, function) == before
    assert _swept_while_pending(function) in run.log_path.read_text()


@pytest.mark.e2e
def test_a_wait_that_fails_leaves_nothing(
    tmp_path, sandbox, lam, function, slow_updates, run_chaos
):
    before = _snapshot(lam, function)
    experiment = _experiment(tmp_path, sandbox, function, chaosthundra_enable_timeout_seconds=1)
    run = run_chaos(experiment, "--rollback-strategy", "never")
    run.wait(timeout=120)
    (action,) = run.journal["run"]
    assert action["status"] == "failed"
    assert "did not become live" in action["exception"][-1]
    assert _settled(lam, function) == before
    log = run.log_path.read_text()
    assert f"injection 'error' may be on '{function}' although enabling it failed" in log
    assert _swept_while_pending(function) in log


@pytest.mark.e2e
def test_sigkill_while_the_enable_waits_then_clear_leaves_nothing(
    tmp_path, sandbox, lam, function, slow_updates, run_chaos
):
    before = _snapshot(lam, function)
    run = _signalled_while_going_live(tmp_path, sandbox, lam, function, run_chaos, signal.SIGKILL)
    run.wait(timeout=30)
    cleared = subprocess.run(
        [str(BIN / "chaosthundra"), "clear", "--function", function, "--yes"]
        + ["--sandbox-url", sandbox.endpoint_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cleared.returncode == 0, cleared.stderr
    assert f"cleared {function}: removed error" in cleared.stdout
    assert _settled(lam, function) == before
