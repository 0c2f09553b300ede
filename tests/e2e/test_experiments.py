"""The experiments on their functions, through the real `chaos` CLI, where a real
account's run goes (marked ``aws``; see tests/e2e/account.py): against a `chaosthundra
sandbox up` process through its endpoint, and, with CHAOSTHUNDRA_TEST_TARGET=aws, on
a real account."""

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


pytestmark = [pytest.mark.e2e, pytest.mark.aws]


@pytest.mark.parametrize(
    "experiment,function,deviates", CASES, ids=[f"{e.split('.')[0]}-{f}" for e, f, _ in CASES]
)
def test_experiment_outcome_and_nothing_left(
    account, run_on_account, experiment, function, deviates
):
    if experiment.startswith("redis"):
        account.require_redis()
    lam = account.client("lambda")
    before = _exact_state(lam, function)
    run = run_on_account(REPO / "experiments" / experiment, "--var", f"function_name={function}")
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
    assert _exact_state(lam, function) == before
    assert account.sockets_off_the_machine() == []


def _exact_state(lam, function: str) -> dict:
    """What a rollback must restore: $LATEST's configuration (without RevisionId and
    LastModified, which every write changes and no tool can put back), the alias `live`
    (with its RevisionId: the experiment never writes it) and the versions."""
    configuration = lam.get_function_configuration(FunctionName=function)
    alias = lam.get_alias(FunctionName=function, Name="live")
    versions = lam.list_versions_by_function(FunctionName=function)["Versions"]
    for answer in (configuration, alias):
        answer.pop("ResponseMetadata")
    return {
        "configuration": {
            k: v for k, v in configuration.items() if k not in ("RevisionId", "LastModified")
        },
        "alias": alias,
        "versions": [(v["Version"], v["CodeSha256"], v.get("Environment")) for v in versions],
    }


@pytest.mark.parametrize("function", ["user-get", "user-get-naive", "user-get-catchpoint"])
def test_dynamodb_failure_deviates_with_the_origins_error_type_and_is_undone_exactly(
    account, run_on_account, function
):
    account.require_redis()  # the cached user the hypothesis reads comes from Redis
    lam = account.client("lambda")
    before = _exact_state(lam, function)
    run = run_on_account(
        REPO / "experiments" / "dynamodb-failure.json", "--var", f"function_name={function}"
    )
    code = run.wait()
    journal = run.journal
    assert journal["deviated"] is True, run.output
    assert journal["status"] == "completed" and code == 1
    assert journal["steady_states"]["before"]["steady_state_met"] is True

    enable = journal["run"][0]["output"]
    assert enable["status"] == "enabled" and enable["verification"]["verified"] is True
    assert "from the function's package, on python3.11 (" in enable["checked_by"]
    exercised = journal["run"][1]["output"]
    assert exercised["function_error"] == "Unhandled"
    assert exercised["payload"]["errorType"] == "Boto3Error"
    assert exercised["payload"]["errorMessage"] == (
        "DynamoDB is unavailable (injected by chaosthundra)"
    )
    after = _outputs(journal, "after")
    assert after["uncached-lookup-has-no-function-error"] is False
    # a user the cache holds is still served while DynamoDB fails
    cached = after["cached-lookup-finds-the-user"]
    assert cached["function_error"] is None and cached["payload"]["source"] == "cache"

    assert journal["rollbacks"][0]["output"]["status"] == "disabled"
    assert _exact_state(lam, function) == before
    assert account.sockets_off_the_machine() == []
