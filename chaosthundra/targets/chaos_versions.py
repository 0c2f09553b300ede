"""The chaos versions on Lambda: reading an alias and its versions, routing an alias,
taking a chaos version out of an alias and deleting it.

:func:`find` and :func:`undo` work from the versions' Descriptions alone (each a
:class:`~chaosthundra.targets.routing.Mark`), so they work after the process that
injected was killed; :func:`variables` is what an alias's faulted traffic runs with.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed

from chaosthundra import interrupts
from chaosthundra.listeners import injection_name_of, is_ours
from chaosthundra.targets import latest
from chaosthundra.targets.routing import (
    LATEST,
    Mark,
    Routing,
    Withdrawal,
    check_qualifier,
    same_routing,
    taken_over,
    withdrawn,
)

__all__ = [
    "ChaosVersion",
    "aliases_beside_latest",
    "chaos_version_of",
    "delete_unreferenced",
    "find",
    "get_alias",
    "injection_names",
    "list_aliases",
    "list_versions",
    "not_ours",
    "ours",
    "read_version",
    "route",
    "undo",
    "variables",
    "withdraw",
]

logger = logging.getLogger("chaostoolkit")

ROUTE_ATTEMPTS = 5


# ---------------------------------------------------------------- variables
def not_ours(variables: Mapping[str, str]) -> dict[str, str]:
    """The variables that are not chaosthundra's."""
    return {k: v for k, v in variables.items() if not is_ours(k)}


def ours(variables: Mapping[str, str]) -> dict[str, str]:
    """chaosthundra's variables: the injections."""
    return {k: v for k, v in variables.items() if is_ours(k)}


def injection_names(variables: Mapping[str, str]) -> list[str]:
    """The injection names of chaosthundra's ``variables``, sorted."""
    return sorted(injection_name_of(k) for k in variables)


# ------------------------------------------------------------------ results
@dataclass
class ChaosVersion:
    """A version chaosthundra published, and the aliases that route to it."""

    function_name: str
    version: str
    mark: Mark
    injections: list[str]
    aliases: list[str]
    # how :func:`undo` took it out of each alias's routing
    withdrawals: list[Withdrawal] = field(default_factory=list)
    # the aliases among ``aliases`` that a deploy moved since the fault
    moved: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "function_name": self.function_name,
            "version": self.version,
            "alias": self.mark.alias,
            "base_version": self.mark.base,
            "traffic_percentage": self.mark.percentage,
            "routing_before": str(self.mark.before),
            "injections": self.injections,
            "routed_by": self.aliases,
            "moved_since_the_fault": self.moved,
        }


# ------------------------------------------------------------ lambda calls
def get_alias(lam: BaseClient, function_name: str, alias_name: str) -> dict:
    try:
        return lam.get_alias(FunctionName=function_name, Name=alias_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            names = _alias_names(lam, function_name)
            raise ActivityFailed(
                f"chaosthundra: Lambda function '{function_name}' has no alias "
                f"'{alias_name}' (its aliases: {', '.join(names) or 'none'}). Check the "
                "qualifier, the function name and the region."
            ) from error
        raise latest.activity_failed(
            f"read alias '{alias_name}' of", function_name, error
        ) from error


def _alias_names(lam: BaseClient, function_name: str) -> list[str]:
    try:
        return [a["Name"] for a in list_aliases(lam, function_name)]
    except ClientError:
        return []


def list_aliases(lam: BaseClient, function_name: str) -> list[dict]:
    paginator = lam.get_paginator("list_aliases")
    return [a for page in paginator.paginate(FunctionName=function_name) for a in page["Aliases"]]


def list_versions(lam: BaseClient, function_name: str) -> list[dict]:
    paginator = lam.get_paginator("list_versions_by_function")
    return [v for page in paginator.paginate(FunctionName=function_name) for v in page["Versions"]]


def read_version(lam: BaseClient, function_name: str, version: str) -> dict:
    try:
        return lam.get_function_configuration(FunctionName=function_name, Qualifier=version)
    except ClientError as error:
        raise latest.activity_failed(f"read version {version} of", function_name, error) from error


def chaos_version_of(
    lam: BaseClient, function_name: str, alias_name: str, routing: Routing
) -> Optional[tuple[str, Mark, dict]]:
    """The chaos version this alias routes to, with its mark and configuration."""
    for version in sorted(routing.versions()):
        if version == LATEST:
            continue
        config = read_version(lam, function_name, version)
        mark = Mark.parse(config.get("Description"))
        if mark is not None and mark.alias == alias_name:
            return version, mark, config
    return None


# ------------------------------------------------------------------ routing
def route(
    lam: BaseClient,
    function_name: str,
    alias_name: str,
    alias: Mapping,
    compute: Callable[[Routing], Routing],
) -> dict:
    """Write the routing ``compute`` gives, with the alias's RevisionId; returns the alias."""
    for attempt in range(1, ROUTE_ATTEMPTS + 1):
        wanted = compute(Routing.of(alias))
        kwargs = {"FunctionName": function_name, "Name": alias_name, **wanted.api_arguments()}
        if alias.get("RevisionId"):
            kwargs["RevisionId"] = alias["RevisionId"]
        try:
            lam.update_alias(**kwargs)
            interrupts.checkpoint("route")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "PreconditionFailedException" and attempt < ROUTE_ATTEMPTS:
                logger.info(
                    "chaosthundra: alias '%s' of '%s' changed meanwhile; re-reading it",
                    alias_name,
                    function_name,
                )
                time.sleep(latest.RETRY_PAUSE_SECONDS * attempt)
                alias = get_alias(lam, function_name, alias_name)
                continue
            raise latest.activity_failed(
                f"route alias '{alias_name}' of", function_name, error
            ) from error
        routed = get_alias(lam, function_name, alias_name)
        if Routing.of(routed) != wanted:
            raise ActivityFailed(
                f"chaosthundra: alias '{alias_name}' of '{function_name}' routes "
                f"{Routing.of(routed)} after the update, not {wanted}. Run 'chaosthundra "
                "status'."
            )
        return routed
    raise AssertionError("unreachable")  # pragma: no cover


def withdraw(
    lam: BaseClient,
    function_name: str,
    alias_name: str,
    alias: Mapping,
    chaos: str,
    mark: Mark,
) -> tuple[dict, Withdrawal]:
    """Take the chaos version out of the alias's routing (see :func:`withdrawn`); returns
    the alias as routed and what was found and done, which is logged."""
    seen: list[Withdrawal] = []

    def compute(routing: Routing) -> Routing:
        seen.append(withdrawn(routing, alias_name, chaos, mark))
        return seen[-1].now

    routed = route(lam, function_name, alias_name, alias, compute)
    done = seen[-1]
    if done.moved:
        logger.warning(
            "chaosthundra: alias '%s' of '%s' moved since the fault: it routed %s, not %s as "
            "the fault left it. Took chaos version %s out of its routing and put nothing else "
            "back: it now routes %s",
            alias_name,
            function_name,
            done.found,
            done.fault_set,
            chaos,
            done.now,
        )
    return routed, done


def delete_unreferenced(lam: BaseClient, function_name: str, versions: Iterable[str]) -> list[str]:
    """Delete those of ``versions`` no alias routes to; returns the deleted ones."""
    referenced = {v for a in list_aliases(lam, function_name) for v in Routing.of(a).versions()}
    deleted = []
    for version in versions:
        if version in referenced or version == LATEST:
            continue
        try:
            lam.delete_function(FunctionName=function_name, Qualifier=version)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise latest.activity_failed(
                f"delete chaos version {version} of", function_name, error
            ) from error
        interrupts.checkpoint("delete-version")
        deleted.append(version)
    return deleted


# ------------------------------------------------------------------ reading
def variables(lam: BaseClient, function_name: str, alias_name: str) -> dict[str, str]:
    """The variables the alias's faulted traffic runs with: its chaos version's, if any,
    else those of the version it points at."""
    check_qualifier(function_name, alias_name)
    routing = Routing.of(get_alias(lam, function_name, alias_name))
    chaos = chaos_version_of(lam, function_name, alias_name, routing)
    if chaos is not None:
        return latest.variables_of(chaos[2])
    return latest.variables_of(read_version(lam, function_name, routing.function_version))


def aliases_beside_latest(lam: BaseClient, function_name: str) -> list[str]:
    """The function's aliases that send no traffic to $LATEST: a fault written there misses
    them."""
    try:
        aliases = list_aliases(lam, function_name)
    except ClientError as error:
        raise latest.activity_failed("list the aliases of", function_name, error) from error
    return sorted(a["Name"] for a in aliases if LATEST not in Routing.of(a).versions())


# ---------------------------------------------------------- across a region
def find(lam: BaseClient, function_names: Optional[Iterable[str]] = None) -> list[ChaosVersion]:
    """Every chaos version in the region (or of the named functions), and who routes to it."""
    if function_names is None:
        paginator = lam.get_paginator("list_functions")
        function_names = [f["FunctionName"] for p in paginator.paginate() for f in p["Functions"]]
    found = []
    for name in function_names:
        try:
            versions = list_versions(lam, name)
        except ClientError as error:
            raise latest.activity_failed("list the versions of", name, error) from error
        marked = [(str(v["Version"]), Mark.parse(v.get("Description")), v) for v in versions]
        marked = [(v, m, c) for v, m, c in marked if m is not None]
        if not marked:
            continue
        aliases = list_aliases(lam, name)
        for version, mark, config in marked:
            routing = {a["Name"]: Routing.of(a) for a in aliases}
            routed = [a for a, r in routing.items() if version in r.versions()]
            fault_set = taken_over(mark.before, mark.base, version, mark.percentage)
            found.append(
                ChaosVersion(
                    name,
                    version,
                    mark,
                    injection_names(ours(latest.variables_of(config))),
                    routed,
                    moved=[a for a in routed if not same_routing(routing[a], fault_set)],
                )
            )
    return found


def undo(
    lam: BaseClient, function_name: str, alias_name: Optional[str] = None
) -> list[ChaosVersion]:
    """Take the chaos versions out of the function's aliases (or one's); delete them.

    An alias routed as the fault left it is routed exactly as before the fault; one
    a deploy moved since only loses the chaos version's share (see
    :func:`withdrawn`). Works from the versions' Descriptions alone. Returns the
    chaos versions it found and removed, each with its ``withdrawals``.
    """
    chaos = [c for c in find(lam, [function_name]) if alias_name in (None, c.mark.alias)]
    for item in chaos:
        for name in item.aliases:
            if alias_name not in (None, name):
                continue
            alias = get_alias(lam, function_name, name)
            routed, withdrawal = withdraw(lam, function_name, name, alias, item.version, item.mark)
            item.withdrawals.append(withdrawal)
            if not withdrawal.moved:
                logger.info(
                    "chaosthundra: alias '%s' of '%s' routes %s again (chaos version %s removed)",
                    name,
                    function_name,
                    Routing.of(routed),
                    item.version,
                )
    deleted = set(delete_unreferenced(lam, function_name, [c.version for c in chaos]))
    return [c for c in chaos if c.version in deleted]
