"""The actions, probes, kill switch and safeguard aimed at an alias, on the sandbox."""

from __future__ import annotations

import logging

import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosthundra import actions, probes
from chaosthundra.controls import safeguard
from chaosthundra.safety import killswitch, ledger
from chaosthundra.targets.routing import Routing

REDIS_GET = dict(
    error_type="redis.ConnectionError",
    class_name="Redis",
    tags={"redis.command.type": "GET"},
)


VOLATILE = ("ResponseMetadata", "RevisionId", "LastModified")


def everything(lam, name: str) -> dict:
    """$LATEST's configuration, the aliases' routing and the versions."""
    latest = lam.get_function_configuration(FunctionName=name)
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    return {
        # What every write changes, on Lambda too: RevisionId and LastModified.
        "latest": {k: v for k, v in latest.items() if k not in VOLATILE},
        "aliases": {
            a["Name"]: Routing.of(a) for a in lam.list_aliases(FunctionName=name)["Aliases"]
        },
        "versions": sorted(v["Version"] for v in versions),
    }


def test_a_verified_fault_on_all_alias_traffic_and_its_undo(aliased, lam, sandbox_configuration):
    cfg = sandbox_configuration
    before = everything(lam, aliased)

    result = actions.enable_error_injection(
        aliased, qualifier="live", verify={}, configuration=cfg, **REDIS_GET
    )

    chaos = result["version"]
    assert result["status"] == "enabled" and result["qualifier"] == "live"
    assert (result["base_version"], result["traffic_percentage"]) == ("1", 100.0)
    assert result["routing"] == f"version {chaos} 100%"
    assert result["verification"]["verified"] is True
    assert [i["name"] for i in probes.list_injections(aliased, "live", configuration=cfg)] == [
        "error"
    ]
    assert probes.list_injections(aliased, configuration=cfg) == []
    assert not probes.invocation_succeeds(aliased, qualifier="live", configuration=cfg)
    assert probes.invocation_succeeds(aliased, configuration=cfg)

    undone = actions.disable_error_injection(aliased, qualifier="live", configuration=cfg)

    assert undone["status"] == "disabled" and undone["version"] is None
    assert everything(lam, aliased) == before


def test_measured_through_the_alias_the_split_shows_in_executed_versions(
    aliased, lam, sandbox_configuration
):
    cfg = sandbox_configuration
    result = actions.enable_error_injection(
        aliased, qualifier="live", traffic_percentage=50, configuration=cfg, **REDIS_GET
    )
    summary = probes.measure_invocations(
        aliased, count=40, concurrency=4, qualifier="live", configuration=cfg
    )
    versions = summary["executed_versions"]
    assert set(versions) <= {"1", result["version"]} and sum(versions.values()) == 40
    assert summary["errors"] == versions.get(result["version"], 0)
    actions.remove_all_injections(aliased, qualifier="live", configuration=cfg)
    assert everything(lam, aliased)["aliases"] == {"live": Routing("1", {})}


def test_an_unqualified_fault_names_the_aliases_it_misses(
    aliased, lam, sandbox_configuration, caplog
):
    cfg = sandbox_configuration
    with caplog.at_level(logging.WARNING, logger="chaostoolkit"):
        result = actions.enable_error_injection(aliased, configuration=cfg, **REDIS_GET)
    assert result["aliases_not_faulted"] == ["live"]
    assert "does not reach its aliases live: they route to published versions" in caplog.text
    actions.disable_error_injection(aliased, configuration=cfg)


def test_a_percentage_without_an_alias_is_refused_and_nothing_changes(
    aliased, lam, sandbox_configuration
):
    before = everything(lam, aliased)
    with pytest.raises(ActivityFailed, match="traffic_percentage 30 needs a qualifier"):
        actions.enable_error_injection(
            aliased, traffic_percentage=30, configuration=sandbox_configuration, **REDIS_GET
        )
    assert everything(lam, aliased) == before


def test_status_and_clear_find_and_undo_a_chaos_version_left_by_a_killed_run(
    aliased, lam, sandbox_configuration
):
    cfg = sandbox_configuration
    before = everything(lam, aliased)
    result = actions.enable_latency_injection(
        aliased, delay=5, class_name="Redis", qualifier="live", traffic_percentage=20,
        configuration=cfg,
    )  # fmt: skip
    ledger.clear()  # what a SIGKILL leaves: no record, only the function itself

    (scanned,) = killswitch.scan(cfg, None, [aliased])
    (chaos,) = scanned["chaos_versions"]
    assert (chaos["version"], chaos["alias"], chaos["routed_by"]) == (
        result["version"],
        "live",
        ["live"],
    )
    assert (chaos["traffic_percentage"], chaos["injections"]) == (20.0, ["latency"])
    assert killswitch.with_injections(cfg, None, [aliased]) == [aliased]

    (cleared,) = killswitch.clear(cfg, None, [aliased])

    assert cleared["error"] is None
    assert (cleared["aliases_restored"], cleared["versions_deleted"]) == (
        ["live"],
        [result["version"]],
    )
    assert everything(lam, aliased) == before
    assert killswitch.with_injections(cfg, None, [aliased]) == []


def test_the_safeguard_undoes_an_alias_fault_and_a_latest_fault(
    aliased, lam, sandbox_configuration
):
    cfg = sandbox_configuration
    before = everything(lam, aliased)
    ledger.clear()
    actions.enable_error_injection(
        aliased, qualifier="live", traffic_percentage=20, configuration=cfg, **REDIS_GET
    )
    actions.enable_latency_injection(aliased, delay=5, class_name="Redis", configuration=cfg)

    removed = safeguard.sweep()

    assert sorted((r["qualifier"] or "", r["injection_name"]) for r in removed) == [
        ("", "latency"),
        ("live", "error"),
    ]
    assert everything(lam, aliased) == before


def test_the_safeguard_undoes_two_injections_on_one_alias(aliased, lam, sandbox_configuration):
    cfg = sandbox_configuration
    before = everything(lam, aliased)
    ledger.clear()
    actions.enable_error_injection(aliased, qualifier="live", configuration=cfg, **REDIS_GET)
    both = actions.enable_latency_injection(
        aliased, delay=5, class_name="Redis", qualifier="live", configuration=cfg
    )
    assert [i["name"] for i in probes.list_injections(aliased, "live", configuration=cfg)] == [
        "error",
        "latency",
    ]
    assert everything(lam, aliased)["versions"] == ["$LATEST", "1", both["version"]]

    removed = safeguard.sweep()

    assert sorted(r["injection_name"] for r in removed) == ["error", "latency"]
    assert everything(lam, aliased) == before


def test_guardrails_apply_to_an_alias_as_to_latest(aliased, lam, sandbox_configuration):
    before = everything(lam, aliased)
    guarded = {**sandbox_configuration, "chaosthundra_allowed_functions": ["user-get*"]}
    with pytest.raises(InterruptExecution, match="not in chaosthundra_allowed_functions"):
        actions.enable_error_injection(
            aliased, qualifier="live", configuration=guarded, **REDIS_GET
        )
    assert everything(lam, aliased) == before
