"""The canary experiment through the real `chaos` CLI: 20% of the alias `live`.

However a run ends, the alias routes as before and the function's versions are
the ones it had: nothing published is left behind.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from chaosthundra.aws import client
from chaosthundra.targets.routing import Routing
from tests.e2e.conftest import BIN, REPO, break_after_method, pause_after_enable, variant
from tests.e2e.test_alias_traffic import binomial_interval

CANARY = "redis-canary.json"
ENABLED = "on alias 'live' of Lambda function"


def fewer(*changes):
    """The experiment with 20 invokes per measure (the runs that test the ending, not the
    SLO), and ``changes``."""

    def change(data: dict) -> None:
        data["configuration"]["invokes"] = 20
        for other in changes:
            other(data)

    return change


@pytest.fixture
def alias_state(sandbox_configuration):
    """Read what a canary may touch: the alias's routing, the versions, $LATEST."""
    lam = client("lambda", sandbox_configuration)

    def read(name: str) -> dict:
        latest = lam.get_function_configuration(FunctionName=name)
        return {
            "live": Routing.of(lam.get_alias(FunctionName=name, Name="live")),
            "versions": sorted(
                v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
            ),
            "latest": {
                k: v
                for k, v in latest.items()
                if k not in ("ResponseMetadata", "RevisionId", "LastModified")
            },
        }

    return read


@pytest.mark.e2e
@pytest.mark.parametrize("function,deviates", [("user-get-naive", True), ("user-get", False)])
def test_the_canary_finds_the_weakness_on_a_fifth_of_the_traffic(
    run_chaos, alias_state, function, deviates
):
    before = alias_state(function)
    run = run_chaos(REPO / "experiments" / CANARY, "--var", f"function_name={function}")
    code = run.wait()
    journal = run.journal
    assert journal["deviated"] is deviates, run.output
    assert code == (1 if deviates else 0)
    enable = journal["run"][0]["output"]
    assert (enable["qualifier"], enable["traffic_percentage"]) == ("live", 20.0)
    assert enable["routing"] == f"version 1 80%, version {enable['version']} 20%"
    (after,) = journal["steady_states"]["after"]["probes"]
    measured = after["output"]
    assert set(measured["executed_versions"]) <= {"1", enable["version"]}
    if deviates:
        low, high = binomial_interval(measured["count"], 0.2, 0.9999)  # a flake in 10,000
        assert low <= measured["errors"] <= high, measured["errors"]
        assert measured["errors"] == measured["executed_versions"].get(enable["version"])
    else:
        assert measured["errors"] == 0
    assert alias_state(function) == before


@pytest.mark.e2e
def test_a_failed_canary_leaves_the_alias_as_it_was(tmp_path, run_chaos, alias_state):
    function = "user-get"
    marker = tmp_path / "method-ran"

    before = alias_state(function)
    run = run_chaos(variant(tmp_path, CANARY, fewer(break_after_method(marker))))
    run.wait()
    assert run.journal["status"] == "failed", run.output
    assert alias_state(function) == before


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signalled_canary_leaves_the_alias_as_it_was(tmp_path, run_chaos, alias_state, signum):
    function = "user-get"
    before = alias_state(function)
    run = run_chaos(variant(tmp_path, CANARY, fewer(pause_after_enable(60))))
    run.wait_for_log(ENABLED)
    assert alias_state(function)["live"] != before["live"]  # the canary is on
    run.signal(signum)
    run.wait(timeout=60)
    assert run.journal["status"] == "interrupted"
    assert alias_state(function) == before
    assert "chaosthundra safeguard: removed" in run.log_path.read_text()


@pytest.mark.e2e
def test_rollback_strategy_never_leaves_the_alias_as_it_was(tmp_path, run_chaos, alias_state):
    function = "user-get"
    before = alias_state(function)
    run = run_chaos(variant(tmp_path, CANARY, fewer()), "--rollback-strategy", "never")
    run.wait()
    assert run.journal["rollbacks"] == []
    assert alias_state(function) == before
    assert "chaosthundra safeguard: removed" in run.log_path.read_text()


@pytest.mark.e2e
def test_sigkill_then_clear_routes_the_alias_back(tmp_path, run_chaos, alias_state, sandbox):
    function = "user-get-naive"
    before = alias_state(function)
    run = run_chaos(
        variant(tmp_path, CANARY, fewer(pause_after_enable(60))),
        "--var",
        f"function_name={function}",
    )
    run.wait_for_log(ENABLED)
    run.signal(signal.SIGKILL)
    run.wait(timeout=30)
    during = alias_state(function)
    assert during["live"] != before["live"] and during["versions"] != before["versions"]

    cli = [str(BIN / "chaosthundra")]
    url = ["--sandbox-url", sandbox.endpoint_url]
    status = subprocess.run(cli + ["status"] + url, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert function in status.stdout and "redis_get_canary" in status.stdout
    assert "version 1 100%" in status.stdout  # the routing it will restore

    cleared = subprocess.run(
        cli + ["clear", "--yes"] + url, capture_output=True, text=True, timeout=60
    )
    assert cleared.returncode == 0, cleared.stderr
    assert "aliases live routed as before" in cleared.stdout
    assert alias_state(function) == before
    after = subprocess.run(cli + ["status"] + url, capture_output=True, text=True, timeout=60)
    assert "No chaosthundra injection is active." in after.stdout
