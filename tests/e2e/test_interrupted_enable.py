"""An enable interrupted while Lambda makes it live leaves no injection behind.

The real `chaos` CLI against the session sandbox, whose updates stay InProgress
for 2 s here. The test polls the function until our variable is on it and
LastUpdateStatus is InProgress (the action is then waiting for the change to go
live), and only then delivers the signal. A wait that fails is a real one too:
`chaosthundra_enable_timeout_seconds` of 1 is shorter than the 2 s update.
`--rollback-strategy never`: the enable undoes its own write on the way out (a
ledger step), and the safeguard control's sweep would catch what that missed.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

from chaosthundra.aws import client
from chaosthundra.listeners import is_ours
from chaosthundra.targets.latest import variables_of
from tests.e2e.conftest import chaosthundra_clear, sandbox_experiment
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
    enable = {
        "type": "action",
        "name": "enable-redis-error",
        "provider": {
            "type": "python",
            "module": "chaosthundra.actions",
            "func": "enable_error_injection",
            "arguments": {"function_name": function, "class_name": "Redis"},
        },
    }
    return sandbox_experiment(
        tmp_path / "interrupted-enable.json",
        sandbox,
        "An enable interrupted while the change goes live",
        [enable],
        **configuration,
    )


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


def _undone_on_the_way_out(function: str) -> str:
    """What the enable logs when it undoes its own write (a ledger step), before the
    safeguard's sweep, which then finds nothing left."""
    return (
        "chaosthundra: undone, as it did not complete: enable an injection on Lambda "
        f"function '{function}' ($LATEST written)"
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
    assert _undone_on_the_way_out(function) in run.log_path.read_text()


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
    assert _undone_on_the_way_out(function) in run.log_path.read_text()


@pytest.mark.e2e
def test_sigkill_while_the_enable_waits_then_clear_leaves_nothing(
    tmp_path, sandbox, lam, function, slow_updates, run_chaos
):
    before = _snapshot(lam, function)
    run = _signalled_while_going_live(tmp_path, sandbox, lam, function, run_chaos, signal.SIGKILL)
    run.wait(timeout=30)
    cleared = chaosthundra_clear(sandbox, function)
    assert f"cleared {function}: removed error" in cleared.stdout
    assert _settled(lam, function) == before
