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
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError, WaiterError
from chaoslib.exceptions import ActivityFailed

from chaosthundra import interrupts
from chaosthundra.listeners import (
    ENV_LIMIT_BYTES,
    decode,
    encode,
    env_size,
)
from chaosthundra.safety import ledger
from chaosthundra.targets import latest
from chaosthundra.targets.chaos_versions import (
    chaos_version_of,
    delete_unreferenced,
    find,
    get_alias,
    injection_names,
    list_versions,
    not_ours,
    ours,
    read_version,
    route,
    undo,
    withdraw,
)
from chaosthundra.targets.routing import (
    LATEST,
    Mark,
    Routing,
    Withdrawal,
    check_percentage,
    check_qualifier,
    taken_over,
)

__all__ = ["AliasChange", "update"]

logger = logging.getLogger("chaostoolkit")

# PublishVersion answers: $LATEST moved since our write (412), or is being updated (409)
_MOVED = ("PreconditionFailedException", "ResourceConflictException")


# Fields of a configuration that do not make a version's behaviour: identity,
# state, and what PublishVersion sets itself. The environment is compared apart.
_NOT_SETTINGS = frozenset(
    {
        "ResponseMetadata",
        "Environment",
        "FunctionArn",
        "Version",
        "RevisionId",
        "LastModified",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
        "State",
        "StateReason",
        "StateReasonCode",
        "Description",
        "MasterArn",
        "RuntimeVersionConfig",
    }
)


# ------------------------------------------------------------------ results
@dataclass
class AliasChange:
    """What an update did to an alias (same core fields as ``latest.Change``).

    ``before`` and ``after`` are the variables of the version the fault rides on:
    the base version's (with the injections it already carried) and the new one's.
    """

    function_name: str
    alias: str
    before: dict[str, str]
    after: dict[str, str]
    changed: bool
    revision_id: Optional[str]
    routing_before: Routing
    routing_after: Routing
    version: Optional[str]
    replaced_version: Optional[str]
    base_version: str
    percentage: Optional[float]
    configuration: dict = field(default_factory=dict, repr=False)
    # set when the last injection went from an alias a deploy had moved since the fault
    moved: Optional[Withdrawal] = None


# ------------------------------------------------------------------- checks


def settings_differences(latest_config: Mapping, version: Mapping, version_name: str) -> list[str]:
    """What would change if ``$LATEST`` were published in place of ``version``.

    Compares every setting and the variables other than chaosthundra's; names
    variables but never prints their values.
    """
    found = []
    for key in sorted(set(latest_config) | set(version)):
        if key in _NOT_SETTINGS:
            continue
        mine, theirs = _setting(latest_config, key), _setting(version, key)
        if mine != theirs:
            what = "code (CodeSha256)" if key == "CodeSha256" else key
            found.append(f"{what}: $LATEST has {mine!r}, version {version_name} has {theirs!r}")
    mine_env = not_ours(latest.variables_of(latest_config))
    theirs_env = not_ours(latest.variables_of(version))
    for key in sorted(set(mine_env) | set(theirs_env)):
        if key not in theirs_env:
            found.append(f"variable {key}: only in $LATEST")
        elif key not in mine_env:
            found.append(f"variable {key}: only in version {version_name}")
        elif mine_env[key] != theirs_env[key]:
            found.append(f"variable {key}: a different value")
    return found


def _setting(configuration: Mapping, key: str) -> object:
    value = configuration.get(key)
    if key == "SnapStart" and isinstance(value, Mapping):
        # OptimizationStatus is On for versions and Off for $LATEST by nature.
        return {"ApplyOn": value.get("ApplyOn")}
    return value


def _reencoded(variables: Mapping[str, str]) -> Optional[dict[str, str]]:
    """``variables`` with one of our values in its other encoding (plain JSON or
    base64(gzip)), which the agent reads as the same config; None when none fits in
    4 KB. When $LATEST already holds exactly what the alias's version must carry,
    PublishVersion may publish nothing new (nothing changed since the last version,
    which may have been a chaos version deleted since): this makes the write a change.
    """
    for key in sorted(ours(variables)):
        value = variables[key]
        try:
            config = decode(value)
        except (ValueError, OSError, EOFError):
            continue
        other = encode(config, compress=value.lstrip().startswith("{"))
        candidate = {**variables, key: other}
        if other != value and env_size(candidate) <= ENV_LIMIT_BYTES:
            return candidate
    return None


# ------------------------------------------------------------------- update
def update(
    lam: BaseClient,
    function_name: str,
    alias_name: str,
    merge: Callable[[dict[str, str]], dict[str, str]],
    percentage: Optional[float] = None,
    wait_timeout: float = latest.WAIT_TIMEOUT_SECONDS,
) -> AliasChange:
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
    result = dict(
        function_name=function_name,
        alias=alias_name,
        before=before,
        after=after,
        routing_before=routing,
        replaced_version=replaced,
        base_version=base,
        percentage=mark.percentage,
    )
    if after == before:
        return _unchanged(function_name, alias_name, alias, routing, before, replaced, base)

    if not ours(after):
        # The last injection goes: no publish, so nothing on $LATEST can block it.
        assert replaced is not None  # nothing carried and nothing added is "unchanged"
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
        return AliasChange(
            **result,
            changed=True,
            revision_id=routed.get("RevisionId"),
            routing_after=Routing.of(routed),
            version=None,
            configuration=base_config,
            moved=withdrawal if withdrawal.moved else None,
        )

    latest_config = latest.read_settled(lam, function_name, wait_timeout=wait_timeout)
    _refuse_unreleased(function_name, alias_name, latest_config, base_config, base)
    mark = Mark(alias_name, base, mark.percentage, mark.before, tuple(injection_names(ours(after))))
    old = replaced or base
    publishing: dict[str, str] = {}
    with ledger.step(
        f"a chaos version published for alias '{alias_name}' of '{function_name}' and routed "
        f"in place of version {old}",
        lambda: _unpublish(lam, function_name, alias_name, old, publishing.get("version")),
    ):
        published = _publish_with(
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
    return AliasChange(
        **result,
        changed=True,
        revision_id=routed.get("RevisionId"),
        routing_after=Routing.of(routed),
        version=new,
        configuration=published,
    )


def _unchanged(
    function_name: str,
    alias_name: str,
    alias: Mapping,
    routing: Routing,
    variables: dict[str, str],
    version: Optional[str],
    base: Optional[str],
) -> AliasChange:
    return AliasChange(
        function_name=function_name,
        alias=alias_name,
        before=variables,
        after=dict(variables),
        changed=False,
        revision_id=alias.get("RevisionId"),
        routing_before=routing,
        routing_after=routing,
        version=version,
        replaced_version=None,
        base_version=base or routing.function_version,
        percentage=None,
        # what a ledger entry needs: the function and where it lives
        configuration={"FunctionName": function_name, "FunctionArn": alias.get("AliasArn", "")},
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


def _refuse_unreleased(
    function_name: str, alias_name: str, latest_config: Mapping, base_config: Mapping, base: str
) -> None:
    differences = settings_differences(latest_config, base_config, base)
    if differences:
        raise ActivityFailed(
            f"chaosthundra: cannot inject into alias '{alias_name}' of '{function_name}': a "
            f"fault reaches it through a version published from $LATEST, and $LATEST differs "
            f"from version {base}, which the alias runs: {'; '.join(differences)}. Publishing "
            "would ship what was never released. Deploy so that $LATEST matches the alias's "
            "version (or point the alias at $LATEST's published version), then retry."
        )


# --------------------------------------------------------------- publishing
def _publish_with(
    lam: BaseClient,
    function_name: str,
    latest_config: dict,
    base_config: Mapping,
    variables: Mapping[str, str],
    mark: Mark,
    wait_timeout: float,
) -> dict:
    """Publish a version of $LATEST carrying ``variables``; $LATEST is put back after."""
    existing = {str(v["Version"]) for v in list_versions(lam, function_name)}
    wanted = ours(variables)
    released = not_ours(latest.variables_of(base_config))
    touched: dict[str, Optional[str]] = {}

    def carry(env: dict[str, str]) -> dict[str, str]:
        if not_ours(env) != released:
            _refuse_unreleased(
                function_name,
                mark.alias,
                {**latest_config, "Environment": {"Variables": env}},
                base_config,
                mark.base,
            )
        touched.clear()
        touched.update({k: env.get(k) for k in set(ours(env)) | set(wanted)})
        carried = not_ours(env) | wanted
        if carried == env:  # Lambda publishes nothing new of an unchanged $LATEST
            carried = _reencoded(carried) or carried
        return carried

    put_back = latest.restoring(touched)  # reads ``touched`` when it runs

    kwargs = {"FunctionName": function_name, "Description": mark.description()}
    if base_config.get("CodeSha256"):
        kwargs["CodeSha256"] = base_config["CodeSha256"]
    carrying = ledger.step(
        f"$LATEST of '{function_name}' carrying {', '.join(injection_names(wanted))} while a "
        f"version is published for alias '{mark.alias}'",
        lambda: _put_back(lam, function_name, put_back),
    )
    with carrying:
        published = _publish_carrying(
            lam, function_name, carry, put_back, kwargs, latest_config, wait_timeout
        )
    version = str(published["Version"])
    problem = None
    if version in existing:
        problem = f"version {version}, which existed before (Lambda published nothing new)"
    elif published.get("Description") != mark.description():
        problem = f"version {version}, which does not carry chaosthundra's description"
    if problem:
        raise ActivityFailed(
            f"chaosthundra: PublishVersion of '{function_name}' answered with {problem}. Nothing "
            "was routed to it and $LATEST is as it was. Check the function's versions, then "
            "run 'chaosthundra status'."
        )
    _wait_active(lam, function_name, version, wait_timeout)
    return published


def _publish_carrying(
    lam: BaseClient,
    function_name: str,
    carry: Callable[[dict[str, str]], dict[str, str]],
    put_back: Callable[[dict[str, str]], dict[str, str]],
    kwargs: Mapping,
    latest_config: dict,
    wait_timeout: float,
) -> dict:
    """Write ``carry`` into $LATEST, publish it, put $LATEST back (with ``put_back``) after
    each attempt; retried from a fresh read while $LATEST moves under the publish."""
    current: Optional[dict] = latest_config
    for attempt in range(1, latest.MAX_ATTEMPTS + 1):
        change = latest.update(
            lam, function_name, carry, current=current, wait_timeout=wait_timeout
        )
        current = None  # every retry reads afresh
        moved = None
        try:
            published = lam.publish_version(
                **kwargs, **({"RevisionId": change.revision_id} if change.revision_id else {})
            )
            interrupts.checkpoint("publish")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _MOVED or attempt == latest.MAX_ATTEMPTS:
                raise latest.activity_failed(
                    "publish a version of", function_name, error
                ) from error
            moved = code
        finally:
            if change.changed:
                _put_back(lam, function_name, put_back)
        if moved is None:
            return published
        # $LATEST changed or got busy between our write and PublishVersion: again, from a
        # fresh read (which refuses if what changed would now be published)
        logger.info(
            "chaosthundra: %s publishing '%s' (attempt %d/%d), re-reading and retrying",
            moved,
            function_name,
            attempt,
            latest.MAX_ATTEMPTS,
        )
        time.sleep(latest.RETRY_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _put_back(
    lam: BaseClient, function_name: str, put_back: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    try:
        latest.update(lam, function_name, put_back)
    except ActivityFailed as error:
        raise ActivityFailed(
            f"chaosthundra: $LATEST of '{function_name}' still carries the injections it held "
            f"while a chaos version was published, because putting its variables back failed: "
            f"{error} Run 'chaosthundra clear --function {function_name}'."
        ) from error


def _wait_active(lam: BaseClient, function_name: str, version: str, timeout: float) -> None:
    try:
        lam.get_waiter("function_active_v2").wait(
            FunctionName=function_name,
            Qualifier=version,
            WaiterConfig={
                "Delay": latest.POLL_SECONDS,
                "MaxAttempts": max(1, int(timeout / latest.POLL_SECONDS)),
            },
        )
    except WaiterError as error:
        raise ActivityFailed(
            f"chaosthundra: version {version} of Lambda function '{function_name}' did not "
            f"become Active: {error}. Run 'chaosthundra clear' to remove it."
        ) from error


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
