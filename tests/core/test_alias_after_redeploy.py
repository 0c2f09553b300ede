"""After a deploy moved the alias, undoing a fault removes only chaosthundra's share.

A deploy that publishes version N+1 and points the alias at it leaves the alias's
RoutingConfig alone, so the chaos version may still hold its weight. `clear`
(``chaos_versions.undo``) and the safeguard (disabling the last injection) must then drop
the chaos version from the routing and put nothing back: the alias routes only to
what the deploy chose, never again to the version the fault stood in for.
"""

from __future__ import annotations

import pytest

from chaosthundra.safety import killswitch
from chaosthundra.targets import alias as target
from chaosthundra.targets import chaos_versions
from chaosthundra.targets.routing import Routing
from tests.core.injection_merges import add, remove
from tests.core.test_alias_target import _other_zip, aliased, lam, make_function, role_arn, write

__all__ = ["aliased", "lam", "make_function", "role_arn"]  # fixtures used here


def versions(lam, name: str) -> list[str]:
    return sorted(
        v["Version"]
        for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
        if v["Version"] != "$LATEST"
    )


def deploy(lam, name: str) -> str:
    """What a deploy tool does: new code, publish it, point the alias at it (the alias's
    RoutingConfig is not part of the call, so Lambda keeps it)."""
    write(lam, "update_function_code", FunctionName=name, ZipFile=_other_zip())
    new = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=new)
    return new


def routing(lam, name: str) -> Routing:
    return Routing.of(lam.get_alias(FunctionName=name, Name="live"))


def clear_through_killswitch(lam, name: str, sandbox_configuration) -> list[dict]:
    return killswitch.clear(sandbox_configuration, None, [name])


def disable_as_the_safeguard_does(lam, name: str, sandbox_configuration):
    return target.update(lam, name, "live", remove("error"))


@pytest.mark.parametrize(
    "undo", [clear_through_killswitch, disable_as_the_safeguard_does], ids=["clear", "safeguard"]
)
@pytest.mark.parametrize("percentage", [20, 100])
def test_after_a_redeploy_the_alias_routes_only_to_the_deployed_version(
    aliased, lam, sandbox_configuration, undo, percentage
):
    name = aliased()
    chaos = target.update(lam, name, "live", add("error"), percentage=percentage).alias.version
    before_deploy = versions(lam, name)
    new = deploy(lam, name)
    moved = routing(lam, name)
    assert moved.function_version == new
    assert chaos in moved.versions() or percentage == 100

    undo(lam, name, sandbox_configuration)

    assert routing(lam, name) == Routing(new, {})
    assert versions(lam, name) == sorted(set(before_deploy) - {chaos} | {new})
    assert chaos_versions.find(lam, [name]) == []


def test_clear_reports_the_move_and_what_it_did(aliased, lam, sandbox_configuration):
    name = aliased()
    chaos = target.update(lam, name, "live", add("error"), percentage=20).alias.version
    new = deploy(lam, name)

    (result,) = killswitch.clear(sandbox_configuration, None, [name])

    assert result["error"] is None
    assert result["aliases_restored"] == []
    assert result["versions_deleted"] == [chaos]
    (moved,) = result["aliases_moved"]
    assert moved["alias"] == "live"
    assert moved["found"] == str(Routing(new, {chaos: 0.2}))
    assert moved["fault_set"] == str(Routing("1", {chaos: 0.2}))
    assert moved["now"] == str(Routing(new, {}))


def test_an_alias_that_did_not_move_is_routed_exactly_as_before(
    aliased, lam, sandbox_configuration
):
    name = aliased()
    target.update(lam, name, "live", add("error"), percentage=20)
    (result,) = killswitch.clear(sandbox_configuration, None, [name])
    assert result["aliases_restored"] == ["live"] and result["aliases_moved"] == []
    assert routing(lam, name) == Routing("1", {})


def test_a_chaos_version_still_primary_gives_its_place_to_its_base(
    aliased, lam, sandbox_configuration
):
    """A deploy that starts its own canary beside a 100% fault keeps the chaos version as
    FunctionVersion: the base version, which runs the same code without the fault, takes
    that place, and the deploy's weight stays."""
    name = aliased()
    chaos = target.update(lam, name, "live", add("error"), percentage=100).alias.version
    write(lam, "update_function_code", FunctionName=name, ZipFile=_other_zip())
    new = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion=chaos,
        RoutingConfig={"AdditionalVersionWeights": {new: 0.1}},
    )

    (result,) = killswitch.clear(sandbox_configuration, None, [name])

    assert routing(lam, name) == Routing("1", {new: 0.1})
    assert [m["now"] for m in result["aliases_moved"]] == [str(Routing("1", {new: 0.1}))]
    assert chaos not in versions(lam, name)


def test_the_disable_reports_the_move_it_found(aliased, lam):
    name = aliased()
    chaos = target.update(lam, name, "live", add("error"), percentage=20).alias.version
    new = deploy(lam, name)

    change = target.update(lam, name, "live", remove("error"))

    assert change.alias.moved is not None
    assert change.alias.moved.to_dict() == {
        "alias": "live",
        "chaos_version": chaos,
        "found": str(Routing(new, {chaos: 0.2})),
        "fault_set": str(Routing("1", {chaos: 0.2})),
        "now": str(Routing(new, {})),
    }
    unmoved = aliased()
    target.update(lam, unmoved, "live", add("error"), percentage=20)
    assert target.update(lam, unmoved, "live", remove("error")).alias.moved is None
