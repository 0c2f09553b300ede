"""Both experiments on both variants, through the real `chaos` CLI."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import REPO

CASES = [
    ("redis-failure.json", "user-get-naive", True),
    ("redis-failure.json", "user-get", False),
    ("upstream-latency.json", "caller-naive", True),
    ("upstream-latency.json", "caller", False),
]


def _outputs(journal: dict, phase: str) -> dict:
    probes = journal["steady_states"][phase]["probes"]
    return {p["activity"]["name"]: p.get("output") for p in probes}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "experiment,function,deviates", CASES, ids=[f"{e.split('.')[0]}-{f}" for e, f, _ in CASES]
)
def test_experiment_outcome_and_nothing_left(
    run_chaos, function_state, experiment, function, deviates
):
    before = function_state(function)
    run = run_chaos(REPO / "experiments" / experiment, "--var", f"function_name={function}")
    code = run.wait()
    journal = run.journal
    assert journal["deviated"] is deviates, run.output
    assert journal["status"] == "completed"
    assert code == (1 if deviates else 0)
    assert journal["steady_states"]["before"]["steady_state_met"] is True

    enable = journal["run"][0]["output"]
    assert enable["status"] == "enabled" and enable["function_name"] == function
    exercised = journal["run"][1]["output"]
    after = _outputs(journal, "after")

    if experiment.startswith("redis"):
        assert enable["verification"]["verified"] is True
        if deviates:
            assert exercised["function_error"] == "Unhandled"
            assert exercised["payload"]["errorType"] == "ConnectionError"
            assert "injected by chaosthundra" in exercised["payload"]["errorMessage"]
        else:
            assert exercised["payload"]["userFound"] is True
            assert exercised["payload"]["source"] == "dynamodb"
            assert "ConnectionError" in exercised["payload"]["cacheError"]
            assert after["lookup-finds-the-user"]["payload"]["userFound"] is True
    else:
        if deviates:
            assert exercised["timed_out"] is True
            assert "Task timed out after 2.00 seconds" in exercised["payload"]["errorMessage"]
        else:
            assert exercised["timed_out"] is False
            assert exercised["payload"]["upstream"]["answer"] == 42
            assert exercised["duration_ms"] >= 2500
            assert after["caller-returns-the-upstream-answer"]["payload"]["degraded"] is False

    rollback = journal["rollbacks"][0]["output"]
    assert rollback["status"] == "disabled"
    assert function_state.ours(function) == []
    assert function_state(function) == before
