"""However a run ends, no injection is left behind (the safeguard control and the kill switch)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.e2e.conftest import BIN, REPO, break_after_method, pause_after_enable, variant

EXPERIMENTS = [("redis-failure.json", "user-get-naive"), ("upstream-latency.json", "caller")]
IDS = [e.split(".")[0] for e, _ in EXPERIMENTS]


def _vars(function: str) -> list[str]:
    """The run's --var options: the function, and a 300 ms upstream delay instead of 2.5 s
    (these tests are about how a run ends; test_experiments runs the real 2.5 s)."""
    return ["--var", f"function_name={function}", "--var", "delay_ms:int=300"]


@pytest.mark.e2e
@pytest.mark.parametrize("experiment,function", EXPERIMENTS, ids=IDS)
def test_a_failed_run_leaves_nothing(tmp_path, run_chaos, function_state, experiment, function):
    marker = tmp_path / "method-ran"

    before = function_state(function)
    run = run_chaos(variant(tmp_path, experiment, break_after_method(marker)), *_vars(function))
    run.wait()
    assert run.journal["status"] == "failed"
    assert function_state.ours(function) == []
    assert function_state(function) == before
    assert "chaosthundra safeguard" in run.log_path.read_text() or run.journal["rollbacks"], (
        "nothing removed the injection"
    )


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("experiment,function", EXPERIMENTS, ids=IDS)
def test_a_signalled_run_leaves_nothing(
    tmp_path, run_chaos, function_state, experiment, function, signum
):
    before = function_state(function)
    run = run_chaos(variant(tmp_path, experiment, pause_after_enable(60)), *_vars(function))
    run.wait_for_log(f"on '{function}'")
    assert function_state.ours(function) != []  # the fault is on
    run.signal(signum)
    run.wait(timeout=60)
    assert run.journal["status"] == "interrupted"
    assert function_state.ours(function) == []
    assert function_state(function) == before
    log = run.log_path.read_text()
    assert "chaosthundra safeguard: removed" in log


@pytest.mark.e2e
@pytest.mark.parametrize("experiment,function", EXPERIMENTS, ids=IDS)
def test_rollback_strategy_never_leaves_nothing(run_chaos, function_state, experiment, function):
    before = function_state(function)
    run = run_chaos(
        REPO / "experiments" / experiment, "--rollback-strategy", "never", *_vars(function)
    )
    run.wait()
    assert run.journal["rollbacks"] == []
    assert function_state.ours(function) == []
    assert function_state(function) == before
    assert "chaosthundra safeguard: removed" in run.log_path.read_text()


@pytest.mark.e2e
def test_sigkill_then_clear_restores_the_function(tmp_path, run_chaos, function_state, sandbox):
    function = "user-get-naive"
    before = function_state(function)
    run = run_chaos(variant(tmp_path, "redis-failure.json", pause_after_enable(60)))
    run.wait_for_log(f"on '{function}'")
    run.signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert function_state.ours(function) != []  # nothing could clean up

    cli = [str(BIN / "chaosthundra")]
    url = ["--sandbox-url", sandbox.endpoint_url]
    status = subprocess.run(cli + ["status"] + url, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert function in status.stdout and "redis_get" in status.stdout
    # who holds it: the killed run, which provably no longer runs
    assert f"owner: chaos run variant-redis-failure.json (pid {run.proc.pid} on host" in (
        status.stdout
    )
    assert f"(gone: its process {run.proc.pid} on host" in status.stdout

    refused = subprocess.run(
        cli + ["clear"] + url, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert function_state.ours(function) != []

    cleared = subprocess.run(
        cli + ["clear", "--yes"] + url, capture_output=True, text=True, timeout=60
    )
    assert cleared.returncode == 0, cleared.stderr
    assert f"cleared {function}: removed redis_get" in cleared.stdout
    assert function_state(function) == before
    after = subprocess.run(cli + ["status"] + url, capture_output=True, text=True, timeout=60)
    assert "No chaosthundra injection is active." in after.stdout
