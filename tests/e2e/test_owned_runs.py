"""Two `chaos run`s of one experiment at once (two CI jobs on one branch): the real CLI.

Both run experiments/redis-failure.json against user-get-naive in the session
sandbox, with the same injection name. Run A holds its fault (a probe after the
enable waits for a file the test creates) while run B runs whole: B's enable is
refused, naming A; B's rollback leaves A's fault; A then deviates, as it must with
the fault on (before owners, B's rollback removed it and A reported the
hypothesis held: a false pass).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosthundra.listeners import decode, env_key
from tests.e2e.conftest import variant

FUNCTION = "user-get-naive"
KEY = env_key("redis_get")


def _held_until_told(data: dict) -> None:
    """After the enable, a probe waits for ${hold_marker} to exist (given with --var)."""
    data["configuration"]["hold_marker"] = "set-me-with-var"
    data["method"].insert(
        1,
        {
            "type": "probe",
            "name": "hold-the-fault-until-told",
            "tolerance": True,
            "provider": {
                "type": "python",
                "module": "tests.e2e.helpers",
                "func": "wait_for_file",
                "arguments": {"path": "${hold_marker}"},
            },
        },
    )


def _activity(journal: dict, name: str, part: str = "run") -> dict:
    (found,) = [a for a in journal[part] if a["activity"]["name"] == name]
    return found


@pytest.mark.e2e
def test_a_second_run_is_refused_and_its_rollback_leaves_the_first_runs_fault(
    tmp_path, run_chaos, function_state
):
    experiment = variant(tmp_path, "redis-failure.json", _held_until_told)
    before = function_state(FUNCTION)
    assert KEY not in before
    hold_a, hold_b = tmp_path / "release-a", tmp_path / "release-b"
    hold_b.touch()  # B never waits

    run_a = run_chaos(experiment, "--rollback-strategy", "always", "--var", f"hold_marker={hold_a}")
    run_a.wait_for_log("hold-the-fault-until-told", timeout=120)
    held = function_state(FUNCTION)[KEY]
    owner = decode(held)["owner"]
    assert owner["p"] == run_a.proc.pid and owner["by"] == f"chaos run {Path(experiment).name}"

    # B: the same experiment; its hypothesis only after the method, so that it gets as far
    # as its enable (before it, A's fault would fail B's steady state and skip the method)
    run_b = run_chaos(
        experiment,
        "--hypothesis-strategy",
        "after-method-only",
        "--rollback-strategy",
        "always",
        "--var",
        f"hold_marker={hold_b}",
    )
    run_b.wait(timeout=180)
    enable_b = _activity(run_b.journal, "fail-the-redis-get")
    assert enable_b["status"] == "failed"
    refusal = enable_b["exception"][-1]
    assert f"is held by chaos run {Path(experiment).name} (pid {run_a.proc.pid}" in refusal
    rollback_b = _activity(run_b.journal, "restore-the-redis-get", "rollbacks")
    assert rollback_b["output"]["status"] == "left"
    assert f"left injection 'redis_get' on Lambda function '{FUNCTION}'" in (
        run_b.log_path.read_text()
    )
    assert function_state(FUNCTION)[KEY] == held  # A's fault, untouched by B

    hold_a.touch()
    assert run_a.wait(timeout=180) == 1, run_a.output  # deviated: chaos exits 1
    journal = run_a.journal
    assert journal["deviated"] is True and journal["status"] == "completed"
    # the fault fired in the method, after B's rollback, and in the hypothesis after it
    during = _activity(journal, "look-up-the-user-while-redis-fails")["output"]
    (after, *_) = journal["steady_states"]["after"]["probes"]
    for output in (during, after["output"]):
        assert output["function_error"] == "Unhandled"
        assert "injected by chaosthundra" in output["payload"]["errorMessage"]
    assert _activity(journal, "fail-the-redis-get")["output"]["status"] == "enabled"
    assert _activity(journal, "restore-the-redis-get", "rollbacks")["output"]["status"] == (
        "disabled"
    )
    assert function_state(FUNCTION) == before
