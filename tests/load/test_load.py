"""measure_load on the sandbox: Locust in child processes, totals checked against a
function that counts its own executions (it appends its request id to a file named
in the event), locally and with separately started `chaosthundra load-worker`s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra.aws import client
from chaosthundra.load.probes import measure_load
from tests.core import recording_proxy
from tests.sandbox_functions import create_function

APP = """\
import time


def handler(event, context):
    with open(event["ran"], "a") as runs:
        runs.write(context.aws_request_id + "\\n")
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""
CHAOSTHUNDRA = str(Path(sys.executable).with_name("chaosthundra"))


@pytest.fixture(scope="module")
def counted(sandbox) -> str:
    """A function that records each of its executions."""
    return create_function(sandbox.configuration(), "load", {"app.py": APP}, Timeout=30)


def _runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _measure(sandbox, function_name: str, payload: dict, **arguments) -> dict:
    """measure_load on the sandbox: 2 users (all at once) for 2 s unless told."""
    arguments = {"users": 2, "spawn_rate": 2, "duration": 2, **arguments}
    arguments.setdefault("configuration", sandbox.configuration())
    return measure_load(function_name, payload, **arguments)


def test_a_local_run_counts_every_execution_and_leaves_locust_out(sandbox, counted, tmp_path):
    ran = tmp_path / "ran"
    summary = _measure(sandbox, counted, {"ran": str(ran)}, users=4, spawn_rate=4, duration=3)
    print({k: summary[k] for k in ("count", "rps", "p95_ms", "duration_s", "workers")})
    assert summary["count"] == summary["sent"] == _runs(ran) > 0
    assert summary["ok"] == summary["count"] and summary["error_ratio"] == 0.0
    assert summary["workers"] == 1 and summary["missing_workers"] == [] and not summary["partial"]
    assert summary["executed_versions"] == {"$LATEST": summary["count"]}
    assert 2.5 <= summary["duration_s"] <= 5
    assert summary["history"] and all(p["errors_per_s"] == 0 for p in summary["history"])
    assert "locust" not in sys.modules and "gevent" not in sys.modules


def test_failures_are_classed_and_named_as_measure_invocations_does(sandbox, counted, tmp_path):
    ran = tmp_path / "ran"
    failing = _measure(sandbox, counted, {"ran": str(ran), "fail": True})
    assert failing["errors"] == failing["count"] == _runs(ran) > 0
    assert failing["error_ratio"] == 1.0 and failing["ok"] == failing["throttled"] == 0
    assert failing["failures"] == {"error: ValueError": failing["count"]}

    throttled_fn = create_function(sandbox.configuration(), "load0", {"app.py": APP}, Timeout=30)
    client("lambda", sandbox.configuration()).put_function_concurrency(
        FunctionName=throttled_fn, ReservedConcurrentExecutions=0
    )
    throttled = _measure(sandbox, throttled_fn, {"ran": str(tmp_path / "none")})
    assert throttled["throttled"] == throttled["count"] > 0
    assert throttled["failures"] == {"throttled: TooManyRequestsException": throttled["count"]}
    assert throttled["executed_versions"] == {} and _runs(tmp_path / "none") == 0


def test_a_canary_alias_is_broken_down_by_executed_version(sandbox, counted, tmp_path):
    lam = client("lambda", sandbox.configuration())
    first = lam.publish_version(FunctionName=counted)["Version"]
    lam.update_function_configuration(FunctionName=counted, Description="second")
    lam.get_waiter("function_updated_v2").wait(FunctionName=counted)
    second = lam.publish_version(FunctionName=counted)["Version"]
    lam.create_alias(
        FunctionName=counted,
        Name="live",
        FunctionVersion=first,
        RoutingConfig={"AdditionalVersionWeights": {second: 0.5}},
    )
    ran = tmp_path / "ran"
    summary = _measure(sandbox, counted, {"ran": str(ran)}, qualifier="live", rps=40)
    assert set(summary["versions"]) == {first, second}, (summary["versions"], summary["failures"])
    assert sum(v["count"] for v in summary["versions"].values()) == summary["count"] == _runs(ran)
    assert summary["executed_versions"] == {v: f["count"] for v, f in summary["versions"].items()}
    assert summary["asked_rps"] == 40.0 and summary["rps"] <= 40 * 1.1


def test_an_unreachable_rate_is_reported(sandbox, counted, tmp_path):
    payload = {"ran": str(tmp_path / "ran"), "sleep": 0.2}
    summary = _measure(sandbox, counted, payload, users=1, spawn_rate=1, rps=50)
    assert summary["rps"] < 10 and summary["rate_reached"] is False


proxy = recording_proxy.proxy


@pytest.fixture
def start_workers() -> Iterator:
    """Start `chaosthundra load-worker` processes apart from the master, in an
    environment holding the host's own (here, made-up) credentials; any still running
    at the end of the test are killed."""
    started: list[subprocess.Popen] = []
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAHOSTKEY", "AWS_SECRET_ACCESS_KEY": "host"}

    def start(port: int, count: int) -> list[subprocess.Popen]:
        for _ in range(count):
            started.append(
                subprocess.Popen(
                    [CHAOSTHUNDRA, "load-worker", "--master-port", str(port)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        return started[-count:]

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
        worker.wait()


def _listening(port: int) -> set:
    return {
        c.laddr.ip
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


def test_two_workers_send_what_the_function_counted_on_loopback_only(
    sandbox, counted, proxy, start_workers, tmp_path
):
    port, web = _free_port(), _free_port()
    workers = start_workers(port, 2)
    seen: dict = {}

    def watch() -> None:
        _wait_for(lambda: _listening(port) and _listening(web))
        seen["master"], seen["web"] = _listening(port), _listening(web)

    watcher = threading.Thread(target=watch)
    watcher.start()
    ran = tmp_path / "ran"
    via_proxy = {
        "aws_endpoint_url": proxy.url,
        "aws_region": sandbox.region,
        "chaosthundra_sandbox": True,
    }
    try:
        summary = _measure(
            sandbox,
            counted,
            {"ran": str(ran)},
            users=4,
            spawn_rate=4,
            duration=3,
            expect_workers=2,
            master_port=port,
            web_port=web,
            configuration=via_proxy,
        )
    finally:
        watcher.join()
        for worker in workers:
            worker.wait(timeout=30)  # a worker exits when its master quits
    print({k: summary[k] for k in ("count", "rps", "p95_ms", "workers", "sent")})
    assert summary["workers"] == 2 and not summary["partial"] and summary["missing_workers"] == []
    assert summary["count"] == summary["sent"] == _runs(ran) == len(proxy.invokes()) > 0
    assert seen == {"master": {"127.0.0.1"}, "web": {"127.0.0.1"}}
    assert set(proxy.access_keys()) == {"chaosthundra-sandbox"}  # never the host's keys
    assert all(w.returncode == 0 for w in workers), [w.stderr.read() for w in workers]
    assert "locust" not in sys.modules


def test_a_worker_killed_mid_run_is_reported_and_never_overcounted(
    sandbox, counted, start_workers, tmp_path
):
    port = _free_port()
    workers = start_workers(port, 2)
    ran = tmp_path / "ran"
    result: dict = {}

    def run() -> None:
        result["summary"] = _measure(
            sandbox,
            counted,
            {"ran": str(ran), "sleep": 0.01},
            users=4,
            spawn_rate=4,
            duration=6,
            expect_workers=2,
            master_port=port,
        )

    master = threading.Thread(target=run)
    master.start()
    try:
        _wait_for(lambda: _runs(ran) >= 50)  # both workers are sending
        workers[0].send_signal(signal.SIGKILL)
    finally:
        master.join()
        workers[1].wait(timeout=30)
    summary = result["summary"]
    print({k: summary[k] for k in ("count", "workers", "missing_workers", "sent")}, _runs(ran))
    assert summary["partial"] and len(summary["missing_workers"]) == 1
    assert summary["workers"] == 2
    assert 0 < summary["count"] <= _runs(ran)
    assert summary["sent"] <= summary["count"]  # the finished worker's part, all recorded


def test_workers_that_never_come_fail_clearly(sandbox, counted):
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(
        ActivityFailed, match=r"0 of 2 Locust workers joined the master on 127\.0\.0\.1"
    ):
        _measure(sandbox, counted, {}, expect_workers=2, master_port=port, workers_wait=2)
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"users": 0}, "users must be a whole number from 1"),
        ({"duration": "10"}, "duration must be a whole number"),
        ({"spawn_rate": -1}, "spawn_rate must be a number above 0"),
        ({"rps": 0}, "rps must be a number above 0"),
        ({"expect_workers": -1}, "expect_workers must be from 0"),
        ({"expect_workers": 2, "processes": 2}, "not both"),
        ({"payload": "{not json"}, "is not valid JSON"),
    ],
)
def test_bad_input_is_refused_before_any_load(sandbox, counted, arguments, message):
    with pytest.raises(ActivityFailed, match=message):
        _measure(sandbox, counted, arguments.pop("payload", {}), **arguments)


def test_without_locust_the_probe_says_how_to_get_it(sandbox, counted, monkeypatch):
    """An environment installed without Locust: the one fault faked here, by hiding the
    package from the import system."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "locust" else find_spec(name, *a),
    )
    with pytest.raises(ActivityFailed, match=r"needs Locust.*pip install 'locust>=2.47,<3'"):
        _measure(sandbox, counted, {})


def test_local_worker_processes_each_send_and_add_up(sandbox, counted, tmp_path):
    ran = tmp_path / "ran"
    summary = _measure(sandbox, counted, {"ran": str(ran)}, users=4, spawn_rate=4, processes=2)
    assert summary["workers"] == 2 and not summary["partial"]
    assert summary["count"] == summary["sent"] == _runs(ran) > 0


def test_an_invoke_cut_short_by_the_stop_timeout_is_counted_as_interrupted(
    sandbox, counted, tmp_path
):
    ran = tmp_path / "ran"
    summary = _measure(
        sandbox,
        counted,
        {"ran": str(ran), "sleep": 4},
        users=1,
        spawn_rate=1,
        duration=1,
        stop_timeout=1,
    )
    assert summary["failures"] == {"error: InvokeInterrupted": 1}
    assert summary["count"] == summary["errors"] == summary["sent"] == _runs(ran) == 1
