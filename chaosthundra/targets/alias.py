"""Injections in front of an alias's traffic: a published version and the alias's routing.

Versions are immutable, so a fault reaches an alias only through a version that
carries it. :func:`update` does, for one alias:

1. read the alias (FunctionVersion, RoutingConfig, RevisionId), the chaos
   version it may already route to, and the base version the fault stands in for;
2. refuse when ``$LATEST`` differs from the base version in anything but
   chaosthundra's own variables (code, handler, runtime, layers, any setting, or
   another variable): publishing would ship what was never released;
3. write the injections into ``$LATEST``'s environment (``latest.update``),
   publish a version whose Description records the alias, the base version, the
   traffic percentage and the routing before the first fault, then put
   ``$LATEST``'s variables back, touching only chaosthundra's keys (when
   ``$LATEST`` holds exactly those variables already, one of ours is written in its
   other encoding, which the agent reads alike: Lambda publishes nothing new of an
   unchanged ``$LATEST``);
4. route the alias: the chaos version takes over the base version's share
   (all of it at 100%, else ``AdditionalVersionWeights``), written with the
   alias's RevisionId; then delete the chaos version it replaces.

The chaos version carries every injection on that alias. When the last one is
removed, the chaos version's share goes back to the base version, which gives
the alias's FunctionVersion and RoutingConfig exactly as they were, and chaos
versions no alias references are deleted. ``chaos_versions.find`` and
``chaos_versions.undo`` do the same from the versions' Descriptions alone, so they
work after the process that injected was killed.

Each of these steps is a ``ledger.step``: one cut short by an error, SIGINT,
SIGTERM or SIGHUP is undone on the way out ($LATEST's variables put back, the
chaos version routed away from and deleted; a route back or a deletion finished).

Lambda routes an alias to at most two versions; on an alias that already splits
its traffic the fault can take over one of the two shares, not add a third.

This module is the write path; steps 2 and 3 are ``targets.publishing``, the routing
values and checks ``targets.routing``, and the calls on aliases and versions (with
find and undo) ``targets.chaos_versions``.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Mapping, Optional

from botocore.client import BaseClient
from chaoslib.exceptions import ActivityFailed

from chaosthundra.safety import ledger
from chaosthundra.targets import latest
from chaosthundra.targets.chaos_versions import (
    chaos_version_of,
    delete_unreferenced,
    find,
    get_alias,
    injection_names,
    not_ours,
    ours,
    read_version,
    route,
    undo,
    withdraw,
)
from chaosthundra.targets.publishing import publish_with, refuse_unreleased
from chaosthundra.targets.routing import (
    LATEST,
    AliasRouting,
    Mark,
    Routing,
    Withdrawal,
    check_percentage,
    check_qualifier,
    taken_over,
)

__all__ = ["update"]

logger = logging.getLogger("chaostoolkit")


# ------------------------------------------------------------------- update
def update(
    lam: BaseClient,
    function_name: str,
    alias_name: str,
    merge: Callable[[dict[str, str]], dict[str, str]],
    percentage: Optional[float] = None,
    wait_timeout: float = latest.WAIT_TIMEOUT_SECONDS,
) -> latest.Change:
    """Apply ``merge`` to the injections in front of the alias's traffic.

    ``merge`` receives the variables the alias's chaos version would carry (the
    base version's, plus the injections already on that alias) and returns the
    new ones; only chaosthundra's keys of its answer are used. ``percentage``
    is required to add the first injection (later ones must agree with it);
    ``None`` only edits or removes injections already there. ``wait_timeout``
    bounds each wait for an update or a new version to become live.
    """
    check_qualifier(function_name, alias_name)
    if percentage is not None:
        percentage = check_percentage(percentage)
    alias = get_alias(lam, function_name, alias_name)
    routing = Routing.of(alias)
    chaos = chaos_version_of(lam, function_name, alias_name, routing)

    if chaos is None:
        if percentage is None:
            # nothing routed; a run stopped between publishing and routing may have left
            # a chaos version for this alias
            undo(lam, function_name, alias_name)
            return _unchanged(function_name, alias_name, alias, routing, {}, None, None)
        base = _base_for(function_name, alias_name, routing, percentage)
        mark = Mark(alias_name, base, percentage, routing)
        carried: dict[str, str] = {}
    else:
        version, mark, config = chaos
        base = mark.base
        if percentage is not None and not math.isclose(percentage, mark.percentage):
            raise ActivityFailed(
                f"chaosthundra: alias '{alias_name}' of '{function_name}' already carries "
                f"injections {injection_names(ours(latest.variables_of(config)))} on "
                f"{mark.percentage:g}% of its traffic, through version {version}. Injections on "
                f"one alias share that percentage: use traffic_percentage {mark.percentage:g}, "
                "or disable them first."
            )
        carried = ours(latest.variables_of(config))

    base_config = read_version(lam, function_name, base)
    before = not_ours(latest.variables_of(base_config)) | carried
    after = not_ours(before) | ours(merge(dict(before)))
    replaced = chaos[0] if chaos else None
    if after == before:
        return _unchanged(function_name, alias_name, alias, routing, before, replaced, base)

    if not ours(after):
        # The last injection goes: no publish, so nothing on $LATEST can block it.
        assert replaced is not None  # nothing carried and nothing added is "unchanged"
        routed, withdrawal = _withdraw_last(lam, function_name, alias_name, alias, replaced, mark)
        new_version, configuration = None, base_config
        moved = withdrawal if withdrawal.moved else None
    else:
        routed, configuration = _publish_and_route(
            lam,
            function_name,
            alias_name,
            alias,
            mark,
            base_config,
            after,
            replaced,
            percentage,
            wait_timeout,
        )
        new_version, moved = str(configuration["Version"]), None
    return latest.Change(
        function_name=function_name,
        before=before,
        after=after,
        changed=True,
        revision_id=routed.get("RevisionId"),
        configuration=configuration,
        alias=AliasRouting(
            name=alias_name,
            routing_before=routing,
            routing_after=Routing.of(routed),
            version=new_version,
            replaced_version=replaced,
            base_version=base,
            percentage=mark.percentage,
            moved=moved,
        ),
    )


def _withdraw_last(
    lam: BaseClient,
    function_name: str,
    alias_name: str,
    alias: Mapping,
    replaced: str,
    mark: Mark,
) -> tuple[dict, Withdrawal]:
    """The last injection goes: the alias is routed without chaos version ``replaced``
    (see ``chaos_versions.withdraw``), and chaosthundra's versions for it are deleted."""
    with ledger.step(
        f"alias '{alias_name}' of '{function_name}' routed without chaos version "
        f"{replaced}, and chaosthundra's versions for it deleted",
        lambda: undo(lam, function_name, alias_name),
    ):
        routed, withdrawal = withdraw(lam, function_name, alias_name, alias, replaced, mark)
        # with any chaos version an earlier, killed run left for this alias
        swept = undo(lam, function_name, alias_name)
    logger.info(
        "chaosthundra: alias '%s' of '%s' routes %s (%s); deleted chaos versions %s",
        alias_name,
        function_name,
        "without the chaos version" if withdrawal.moved else "as before the fault again",
        Routing.of(routed),
        ", ".join(c.version for c in swept) or "none",
    )
    return routed, withdrawal


def _publish_and_route(
    lam: BaseClient,
    function_name: str,
    alias_name: str,
    alias: Mapping,
    mark: Mark,
    base_config: Mapping,
    after: dict[str, str],
    replaced: Optional[str],
    percentage: Optional[float],
    wait_timeout: float,
) -> tuple[dict, dict]:
    """Publish a chaos version carrying ``after`` and route the alias to it in place of
    ``replaced`` (else of the base version), then delete ``replaced``; returns the alias
    as routed and the published version's configuration."""
    base = mark.base
    latest_config = latest.read_settled(lam, function_name, wait_timeout=wait_timeout)
    refuse_unreleased(function_name, alias_name, latest_config, base_config, base)
    mark = Mark(alias_name, base, mark.percentage, mark.before, tuple(injection_names(ours(after))))
    old = replaced or base
    publishing: dict[str, str] = {}
    with ledger.step(
        f"a chaos version published for alias '{alias_name}' of '{function_name}' and routed "
        f"in place of version {old}",
        lambda: _unpublish(lam, function_name, alias_name, old, publishing.get("version")),
    ):
        published = publish_with(
            lam, function_name, latest_config, base_config, after, mark, wait_timeout
        )
        new = publishing["version"] = str(published["Version"])
        routed = route(
            lam,
            function_name,
            alias_name,
            alias,
            lambda r: _take_over(r, old, new, function_name, alias_name, percentage),
        )
    if replaced:
        with ledger.step(
            f"chaos version {replaced} of '{function_name}' deleted",
            lambda: delete_unreferenced(lam, function_name, [replaced]),
        ):
            delete_unreferenced(lam, function_name, [replaced])
    logger.info(
        "chaosthundra: alias '%s' of '%s' now routes %s (chaos version %s carries %s)",
        alias_name,
        function_name,
        Routing.of(routed),
        new,
        ", ".join(mark.injections),
    )
    return routed, published


def _unchanged(
    function_name: str,
    alias_name: str,
    alias: Mapping,
    routing: Routing,
    variables: dict[str, str],
    version: Optional[str],
    base: Optional[str],
) -> latest.Change:
    return latest.Change(
        function_name=function_name,
        before=variables,
        after=dict(variables),
        changed=False,
        revision_id=alias.get("RevisionId"),
        # what a ledger entry needs: the function and where it lives
        configuration={"FunctionName": function_name, "FunctionArn": alias.get("AliasArn", "")},
        alias=AliasRouting(
            name=alias_name,
            routing_before=routing,
            routing_after=routing,
            version=version,
            replaced_version=None,
            base_version=base or routing.function_version,
            percentage=None,
        ),
    )


def _base_for(function_name: str, alias_name: str, routing: Routing, percentage: float) -> str:
    """The version whose traffic share the fault takes over."""
    where = f"alias '{alias_name}' of '{function_name}'"
    if LATEST in routing.versions():
        raise ActivityFailed(
            f"chaosthundra: {where} points at $LATEST, so its traffic already runs $LATEST's "
            "environment: inject without a qualifier instead."
        )
    if not routing.weights:
        return routing.function_version
    shares = routing.shares()
    for version, share in shares.items():
        if math.isclose(share * 100, percentage, abs_tol=1e-6):
            return version
    raise ActivityFailed(
        f"chaosthundra: {where} already splits its traffic ({routing}). Lambda routes an "
        "alias to at most two versions, so the fault can only take over one of these shares: "
        f"use traffic_percentage {' or '.join(f'{s * 100:g}' for s in shares.values())}, or "
        "end the split first."
    )


def _take_over(
    routing: Routing,
    old: str,
    new: str,
    function_name: str,
    alias_name: str,
    percentage: Optional[float],
) -> Routing:
    if old in routing.versions():
        return taken_over(routing, old, new, percentage)
    raise ActivityFailed(
        f"chaosthundra: alias '{alias_name}' of '{function_name}' no longer routes to version "
        f"{old} ({routing}): someone changed it meanwhile. Nothing was routed to the chaos "
        "version; try again."
    )


# ------------------------------------------------------ a publish cut short
def _unpublish(
    lam: BaseClient, function_name: str, alias_name: str, old: str, new: Optional[str]
) -> None:
    """Undo a publish and route cut short: where the alias routes to ``new``, ``old`` takes
    its place again; then chaosthundra's versions for the alias that no alias routes to
    (``new``, even if its number never came back) are deleted."""
    if new is not None:
        alias = get_alias(lam, function_name, alias_name)
        if new in Routing.of(alias).versions():
            route(lam, function_name, alias_name, alias, lambda r: _give_back(r, new, old))
    orphans = [c.version for c in find(lam, [function_name]) if c.mark.alias == alias_name]
    delete_unreferenced(lam, function_name, orphans)


def _give_back(routing: Routing, new: str, old: str) -> Routing:
    return routing.replace(new, old) if new in routing.versions() else routing
