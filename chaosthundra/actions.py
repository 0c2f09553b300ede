"""Actions: switch agent span listeners on and off for a Lambda function.

Each injection is one environment variable of the function, named after the
injection and the agent the function runs (see chaosthundra.agents). Enabling
writes it, disabling removes it; every other variable, layer, handler and
setting of the function is kept exactly as it was. Each action returns once the
change is live, that is once Lambda starts new execution environments with it.

Without a qualifier the variable goes into ``$LATEST``. With ``qualifier`` (an
alias name) it reaches the alias's traffic, or ``traffic_percentage`` of it,
through a published version that carries it (see ``chaosthundra.targets.alias``).
"""

import contextlib
import logging
from dataclasses import replace
from typing import Any, Callable, ContextManager, Mapping, Optional, Union

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra import interrupts, owners, targets
from chaosthundra.agents import check as agent_check
from chaosthundra.aws import client, resolve_endpoint_url
from chaosthundra.listeners import (
    InvalidInjection,
    decode,
    encode,
    env_key,
    env_keys,
    error_listener,
    fit_value,
    injection_name_of,
    is_ours,
    latency_listener,
    parse_injections,
    span_filter,
)
from chaosthundra.safety import ledger
from chaosthundra.safety.guardrails import preflight
from chaosthundra.safety.verification import check_verifiable, verify_injection
from chaosthundra.targets import alias as alias_target
from chaosthundra.targets import latest
from chaosthundra.targets.invoke import payload_bytes
from chaosthundra.targets.names import resolve as resolve_function

__all__ = [
    "enable_error_injection",
    "disable_error_injection",
    "enable_latency_injection",
    "disable_latency_injection",
    "remove_all_injections",
]

logger = logging.getLogger("chaostoolkit")

ENABLE_TIMEOUT_KEY = "chaosthundra_enable_timeout_seconds"
DEFAULT_ENABLE_TIMEOUT_SECONDS = 300.0


def enable_error_injection(
    function_name: str,
    error_type: str = "Exception",
    error_message: str = "Error injected by chaosthundra",
    class_name: str = None,
    operation_name: str = None,
    domain_name: str = None,
    tags: dict = None,
    inject_on_finish: bool = False,
    every: int = 1,
    injection_name: str = "error",
    verify: Any = None,
    qualifier: str = None,
    traffic_percentage: float = 100,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Make the function raise `error_type` on matching spans (downstream calls).

    Scope the fault with `class_name` (for example "Redis", "AWS-Lambda",
    "AWS-DynamoDB"), `operation_name`, `domain_name` and span `tags` (for
    example {"redis.command.type": "GET"}); at least one is required. The error
    is raised on 1 matching span in `every`. `error_type` is a builtin exception
    or a dotted path importable in the function's runtime, such as
    "redis.ConnectionError" (with redis in its package) or
    "boto3.exceptions.Boto3Error" (the runtime provides boto3), that the agent can
    build from the message alone ("botocore.exceptions.ClientError" it cannot).
    Returns once new execution environments get the fault. With `verify` (a payload), the
    function is then invoked until a span shows the fault fired; if none does,
    the injection is removed and the action fails with the reason. Undo with
    `disable_error_injection` (same `injection_name`) or `remove_all_injections`.

    Without `qualifier` the fault goes into $LATEST, which aliases pointing at
    published versions do not run (the result names them). With `qualifier`,
    an alias name, it reaches that alias's traffic: `traffic_percentage` of it
    (0 < p <= 100) runs a published version that carries the fault; $LATEST must
    match the alias's version, or nothing is published. Undo with the same
    `qualifier`. `function_name` may also be an ARN or name:alias.

    The injection is owned by this run: another run's enable of the same name
    (names are case-insensitive) on the function is refused while this run
    lives, and only this run's rollback removes it. `force=True` takes over a
    name another live run holds.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return _enable(
        function_name,
        injection_name,
        lambda filters: error_listener(
            filters,
            error_type=error_type,
            error_message=error_message,
            inject_on_finish=inject_on_finish,
            every=every,
        ),
        _filter_args(class_name, operation_name, domain_name, tags),
        verify,
        qualifier,
        traffic_percentage,
        configuration,
        secrets,
        force,
    )


def enable_latency_injection(
    function_name: str,
    delay: int,
    variation: int = 0,
    sigma: int = 0,
    distribution: str = "uniform",
    class_name: str = None,
    operation_name: str = None,
    domain_name: str = None,
    tags: dict = None,
    injection_name: str = "latency",
    verify: Any = None,
    qualifier: str = None,
    traffic_percentage: float = 100,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Make matching spans (downstream calls) of the function slower.

    `delay` is in milliseconds, added before the call starts. With
    distribution "uniform", each delay is drawn from delay ± `variation` ms;
    with "normal", from a normal distribution of standard deviation `sigma` ms.
    Scope the fault with `class_name`, `operation_name`, `domain_name` and
    `tags` (for example class_name "AWS-Lambda" with tags
    {"aws.lambda.name": "upstream-lambda"}); at least one is required. Returns
    once new execution environments get the fault. With `verify` (a payload),
    the function is then invoked once and a span must show the delay, or the
    injection is removed and the action fails with the reason. Undo with
    `disable_latency_injection` (same `injection_name`) or
    `remove_all_injections`. `qualifier` (an alias name) and
    `traffic_percentage` aim the fault at that alias's traffic, as for
    `enable_error_injection`. Each of delay, variation and sigma is at most
    900000 ms (Lambda's 900 s maximum timeout). Owned by this run, as there;
    `force=True` takes over a name another live run holds.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return _enable(
        function_name,
        injection_name,
        lambda filters: latency_listener(
            filters, delay=delay, variation=variation, sigma=sigma, distribution=distribution
        ),
        _filter_args(class_name, operation_name, domain_name, tags),
        verify,
        qualifier,
        traffic_percentage,
        configuration,
        secrets,
        force,
    )


def disable_error_injection(
    function_name: str,
    injection_name: str = "error",
    qualifier: str = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Remove the named error injection from the function (undoes enable_error_injection).

    Only that injection's variable is removed; a change anyone else made in the
    meantime is kept. Does nothing, and says so, when the injection is not there.
    It is read back until it is gone, and the action fails if it keeps coming back.
    Another run's injection of that name is left in place (status "left"), unless
    `force=True`. With `qualifier` (an alias), the alias's other injections stay;
    removing its last routes the alias exactly as before and deletes the chaos version.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return _disable(
        function_name, injection_name, "error", qualifier, configuration, secrets, force
    )


def disable_latency_injection(
    function_name: str,
    injection_name: str = "latency",
    qualifier: str = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Remove the named latency injection from the function (undoes enable_latency_injection).

    Only that injection's variable is removed; a change anyone else made in the
    meantime is kept. Does nothing, and says so, when the injection is not there.
    Another run's injection is left in place unless `force=True`. With `qualifier`
    (an alias), as for `disable_error_injection`.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return _disable(
        function_name, injection_name, "latency", qualifier, configuration, secrets, force
    )


def remove_all_injections(
    function_name: str,
    qualifier: str = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Remove every chaosthundra injection this run made on the function.

    Span listeners that chaosthundra did not write (foreign Thundra listener
    variables) and all other variables are left exactly as they are, and so are
    injections another run owns (listed as "left"); `force=True` removes those too,
    as the kill switch `chaosthundra clear` does. With `qualifier` (an alias), the
    alias is routed exactly as before its first injection and chaosthundra's
    versions for it are deleted.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    _check_qualifier(function_name, qualifier)
    where = _where(function_name, qualifier)
    lam = client("lambda", configuration, secrets)
    me = owners.current()
    left: dict[str, owners.Owner] = {}

    def merge(env: dict[str, str]) -> dict[str, str]:
        left.clear()
        for key in [k for k in env if is_ours(k)]:
            holder = _other_holder(env[key], me, force)
            if holder is None:
                env.pop(key)
            else:
                left[injection_name_of(key)] = holder
        return env

    change = _remove_proven(lam, function_name, qualifier, merge, "remove the injections on")
    removed = sorted(injection_name_of(k) for k in change.before if is_ours(k))
    removed = [name for name in removed if name not in left]
    entry = _ledger_entry(change.configuration, "*", configuration, secrets, qualifier)
    if left:
        for name in removed:
            ledger.record_removed(replace(entry, injection_name=name))
    else:
        ledger.record_cleared(entry)
    for name, holder in sorted(left.items()):
        _log_left(name, where, holder)
    if removed:
        logger.info("chaosthundra: removed injections %s from %s", ", ".join(removed), where)
    else:
        logger.info("chaosthundra: no injection of this run on %s; nothing to remove", where)
    return {
        "function_name": function_name,
        "qualifier": qualifier,
        "status": "removed" if removed else "absent",
        "removed": removed,
        "left": sorted(left),
        "revision_id": change.revision_id,
    }


# ------------------------------------------------------------------ internals
def _filter_args(
    class_name: Optional[str],
    operation_name: Optional[str],
    domain_name: Optional[str],
    tags: Optional[dict],
) -> dict:
    return dict(
        class_name=class_name, operation_name=operation_name, domain_name=domain_name, tags=tags
    )


def _enable(
    function_name: str,
    injection_name: str,
    build: Callable[[list], dict],
    filter_args: Mapping[str, Any],
    verify: Any,
    qualifier: Optional[str],
    traffic_percentage: Any,
    configuration: Configuration,
    secrets: Secrets,
    force: bool = False,
) -> dict:
    what = f"enable an injection on {_where(function_name, qualifier)}"
    _check_qualifier(function_name, qualifier)
    percentage = _percentage(function_name, qualifier, traffic_percentage)
    try:
        env_key(injection_name)
        config = build([span_filter(**filter_args)])
    except InvalidInjection as error:
        raise ActivityFailed(f"chaosthundra: cannot {what}: {error}") from error

    if verify is not None:
        payload_bytes(function_name, verify)
    wait_timeout = _enable_timeout(function_name, configuration)
    lam = client("lambda", configuration, secrets)
    function, detection = preflight(
        lam, function_name, configuration, secrets, verify=verify is not None
    )
    agent = detection.profile
    assert agent is not None  # preflight refuses otherwise
    if verify is not None:
        check_verifiable(function_name, config, agent)
    bundled = detection.bundled
    package = bundled.root if bundled is not None and bundled.profile is agent else None
    key = env_key(injection_name, agent)
    runtime = function.get("Runtime")
    try:
        checked_by = agent_check.check(config, encode(config), agent, package, runtime)
    except InvalidInjection as error:
        raise ActivityFailed(f"chaosthundra: cannot {what}: {error}") from error

    me = owners.current(injection_name)
    taken: list[str] = []  # whom this enable took the injection from, and why

    def merge(env: dict[str, str]) -> dict[str, str]:
        clash = [k for k in env if k != key and k.upper() == key.upper()]
        if clash:
            raise ActivityFailed(
                f"chaosthundra: cannot {what}: variable {clash[0]} differs from {key} only in "
                "case, and the agent would read both as one. Choose another injection_name."
            )
        owner = _claim(env.get(key), me, force, what, taken)
        others = {k: v for k, v in env.items() if k != key}
        try:
            value = fit_value(owners.stamp(config, owner), key, others)
            agent_check.check(config, value, agent, package, runtime)
        except InvalidInjection as error:
            raise ActivityFailed(f"chaosthundra: cannot {what}: {error}") from error
        previous[key] = env.get(key)
        env[key] = value
        return env

    previous: dict[str, Optional[str]] = {}
    # Known before anything is written: an interrupt from here on leaves a pending entry,
    # which the safeguard control re-reads and removes if the variable made it.
    # read before the write: once the change is logged as live, the action only returns
    missed = _aliases_missed(lam, function_name) if qualifier is None else None
    entry = ledger.record_pending(
        _ledger_entry(function, injection_name, configuration, secrets, qualifier)
    )
    try:
        with interrupts.stopping(), _latest_step(lam, function_name, qualifier, what, previous):
            change = targets.update(
                lam,
                function_name,
                qualifier,
                merge,
                percentage,
                current=function,
                wait_timeout=wait_timeout,
            )
    except _Held:
        ledger.record_removed(entry)  # refused before anything was written
        raise
    except ActivityFailed:
        _settle_failed_enable(lam, entry, key)
        raise
    ledger.record_enabled(entry)
    for why in dict.fromkeys(taken):
        logger.warning(
            "chaosthundra: took over injection '%s' on %s from %s",
            injection_name.lower(),
            _where(function_name, qualifier),
            why,
        )
    status = "replaced" if key in change.before else "enabled"
    if not change.changed:
        status = "unchanged"
    (injection,) = [i for i in parse_injections(change.after) if i.env_key == key]
    logger.info(
        "chaosthundra: %s %s injection '%s' on %s",
        status,
        injection.kind,
        injection.name,
        _where(function_name, qualifier),
    )
    logger.debug("chaosthundra: listener config %s", injection.config)
    summary = _summary(function_name, injection.name, injection.kind, status, change) | {
        "env_key": key,
        "encoding": injection.encoding,
        "listener": injection.config,
        "agent": agent.name,
        "agent_evidence": f"{detection.how}: {detection.evidence}".rstrip(": "),
        "checked_by": checked_by,
    }
    if missed is not None:
        summary["aliases_not_faulted"] = missed
    if verify is not None:
        try:
            summary["verification"] = verify_injection(
                function_name,
                config,
                verify,
                configuration,
                secrets,
                agent,
                qualifier=getattr(change, "version", None),
            )
        except ActivityFailed:
            remove_injection(function_name, injection_name, configuration, secrets, qualifier)
            logger.warning(
                "chaosthundra: removed injection '%s' from '%s': it could not be verified",
                injection.name,
                function_name,
            )
            raise
    return summary


def remove_injection(
    function_name: str,
    injection_name: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    qualifier: Optional[str] = None,
    force: bool = False,
) -> dict:
    """Remove one named injection whatever its kind (safeguard, kill switch, verify)."""
    return _disable(function_name, injection_name, None, qualifier, configuration, secrets, force)


def _disable(
    function_name: str,
    injection_name: str,
    kind: Optional[str],
    qualifier: Optional[str],
    configuration: Configuration,
    secrets: Secrets,
    force: bool = False,
) -> dict:
    where = _where(function_name, qualifier)
    try:
        keys = env_keys(injection_name)
    except InvalidInjection as error:
        raise ActivityFailed(
            f"chaosthundra: cannot disable an injection on {where}: {error}"
        ) from error
    _check_qualifier(function_name, qualifier)
    lam = client("lambda", configuration, secrets)
    me = owners.current()
    left: list[owners.Owner] = []

    def merge(env: dict[str, str]) -> dict[str, str]:
        left.clear()
        for found in parse_injections({k: env[k] for k in keys if k in env}):
            if kind is not None and found.kind not in (kind, "unreadable"):
                raise ActivityFailed(
                    f"chaosthundra: injection '{injection_name}' on {where} is a "
                    f"{found.kind} injection, not a {kind} one; disable it with "
                    f"disable_{found.kind}_injection or remove_all_injections."
                )
            holder = _other_holder(env[found.env_key], me, force)
            if holder is not None:
                left.append(holder)
                continue
            env.pop(found.env_key)
        return env

    change = _remove_proven(lam, function_name, qualifier, merge, "disable an injection on")
    gone = parse_injections({k: change.before[k] for k in keys if k in change.before})
    removed = gone[0].kind if gone else None
    label = kind or removed or "any"
    if left and not change.changed:
        _log_left(injection_name.lower(), where, left[0])
        return _summary(function_name, injection_name.lower(), label, "left", change) | {
            "holder": left[0].describe()
        }
    ledger.record_removed(
        _ledger_entry(change.configuration, injection_name, configuration, secrets, qualifier)
    )
    if change.changed:
        logger.info("chaosthundra: disabled %s injection '%s' on %s", label, injection_name, where)
        status = "disabled"
    else:
        logger.info(
            "chaosthundra: no %s injection '%s' on %s; nothing to do", label, injection_name, where
        )
        status = "absent"
    return _summary(function_name, injection_name.lower(), label, status, change)


# ------------------------------------------------------------------ ownership
class _Held(ActivityFailed):
    """The injection name is held by another live owner: nothing was written."""


def _claim(
    value: Optional[str], me: owners.Owner, force: bool, what: str, taken: list[str]
) -> owners.Owner:
    """The owner to record for an enable over ``value`` (the variable as it is, if any).

    Refuses (``_Held``) when another live owner holds it, or when this owner holds it
    under another spelling; takes it over, noting why in ``taken``, when that owner is
    provably gone or ``force`` is given. Keeps the holder's time for its own re-enable.
    """
    holder = _holder_of(value)
    if holder is None:
        return me
    name = holder.name or me.name
    if holder.same(me):
        if holder.name and holder.name != me.name and not force:
            raise _Held(
                f"chaosthundra: cannot {what}: injection_name '{me.name}' is injection "
                f"'{holder.name}', which this run enabled {owners.age(holder.since)} ago: names "
                f"are case-insensitive. Use '{holder.name}' to replace it, or another name."
            )
        return replace(me, since=holder.since)
    if force:
        taken.append(f"{holder.describe()} (force=True)")
        return me
    why = holder.gone()
    if why is not None:
        taken.append(f"{holder.describe()}: {why}")
        return me
    raise _Held(
        f"chaosthundra: cannot {what}: injection '{name}' (names are case-insensitive) is held "
        f"by {holder.describe()}. Wait for that run to end, choose another injection_name, or "
        "pass force=True to take it over (`chaosthundra clear` removes every injection)."
    )


def _other_holder(value: str, me: owners.Owner, force: bool) -> Optional[owners.Owner]:
    """Another owner a removal must leave ``value`` to, or None when it may remove it
    (its own, without owner record, or ``force``)."""
    holder = None if force else _holder_of(value)
    return None if holder is None or holder.same(me) else holder


def _holder_of(value: Optional[str]) -> Optional[owners.Owner]:
    if value is None:
        return None
    try:
        return owners.owner_of(decode(value))
    except (ValueError, OSError, EOFError):
        return None  # unreadable: nobody's, as the faults chaosthundra wrote before owners


def _log_left(name: str, where: str, holder: owners.Owner) -> None:
    logger.warning(
        "chaosthundra: left injection '%s' on %s: it belongs to %s, not to this run "
        "(force=True removes it, and so does `chaosthundra clear`)",
        name,
        where,
        holder.describe(),
    )


# ------------------------------------------------------------- proven removal
REMOVE_ATTEMPTS = 5


def _remove_proven(
    lam: Any,
    function_name: str,
    qualifier: Optional[str],
    merge: Callable[[dict[str, str]], dict[str, str]],
    what: str,
) -> Any:
    """Apply a removing ``merge`` and prove it: read the target back once its updates
    settled, and merge again while anything it removes is there (a writer without
    RevisionId may have put it back). Returns the first change, marked changed when any
    write was made; ActivityFailed naming what stayed after REMOVE_ATTEMPTS writes."""
    step = f"{what} {_where(function_name, qualifier)}"
    with interrupts.stopping(), _latest_step(lam, function_name, qualifier, step, merge):
        first = change = targets.update(lam, function_name, qualifier, merge)
    wrote = first.changed
    for attempt in range(1, REMOVE_ATTEMPTS + 1):
        now = targets.variables(lam, function_name, qualifier, settled=True)
        kept = merge(dict(now))
        stayed = sorted(k for k in now if k not in kept)
        if not stayed:
            first.changed = wrote
            return first
        if attempt == REMOVE_ATTEMPTS:
            break
        logger.warning(
            "chaosthundra: %s came back on %s after it was removed (a write without "
            "RevisionId raced the removal); removing it again (attempt %d/%d)",
            ", ".join(stayed),
            _where(function_name, qualifier),
            attempt + 1,
            REMOVE_ATTEMPTS,
        )
        change = targets.update(lam, function_name, qualifier, merge)
        wrote = wrote or change.changed
    raise ActivityFailed(
        f"chaosthundra: could not {what} {_where(function_name, qualifier)}: "
        f"{', '.join(stayed)} stayed after {REMOVE_ATTEMPTS} removals, each undone by another "
        "writer (one that writes the whole environment without RevisionId). Stop that writer, "
        f"then run `chaosthundra clear --function {function_name}`."
    )


def _summary(function_name: str, name: str, kind: str, status: str, change: Any) -> dict:
    summary = {
        "function_name": function_name,
        "injection_name": name,
        "kind": kind,
        "status": status,
        "revision_id": change.revision_id,
    }
    if isinstance(change, alias_target.AliasChange):
        summary |= {
            "qualifier": change.alias,
            "version": change.version,
            "base_version": change.base_version,
            "traffic_percentage": change.percentage,
            "routing_before": str(change.routing_before),
            "routing": str(change.routing_after),
        }
        if change.moved is not None:  # a deploy moved the alias: only the fault's share went
            summary["alias_moved"] = change.moved.to_dict()
    return summary


def _where(function_name: str, qualifier: Optional[str]) -> str:
    if qualifier is None:
        return f"Lambda function '{function_name}'"
    return f"alias '{qualifier}' of Lambda function '{function_name}'"


def _check_qualifier(function_name: str, qualifier: Optional[str]) -> None:
    if qualifier is not None:
        alias_target.check_qualifier(function_name, qualifier)


def _percentage(function_name: str, qualifier: Optional[str], value: Any) -> Optional[float]:
    """The alias's share of traffic to fault; only an alias can take less than 100."""
    if isinstance(value, str):  # from `chaos run --var`
        with contextlib.suppress(ValueError):
            value = float(value)
    percentage = alias_target.check_percentage(value)
    if qualifier is None and percentage != 100:
        raise ActivityFailed(
            f"chaosthundra: traffic_percentage {value!r} needs a qualifier: without one the "
            f"fault goes into $LATEST of '{function_name}', which every unqualified invoke "
            "runs. Give qualifier (an alias name) to fault a share of that alias's traffic."
        )
    return percentage


def _aliases_missed(lam: Any, function_name: str) -> list[str]:
    """The aliases an unqualified fault does not reach, said in the log."""
    missed = alias_target.aliases_beside_latest(lam, function_name)
    if missed:
        logger.warning(
            "chaosthundra: a fault in $LATEST of '%s' does not reach its aliases %s: they route "
            "to published versions. Give qualifier=<alias> to reach their traffic.",
            function_name,
            ", ".join(missed),
        )
    return missed


def _ledger_entry(
    function: Mapping[str, Any],
    injection_name: str,
    configuration: Configuration,
    secrets: Secrets,
    qualifier: Optional[str] = None,
) -> ledger.Entry:
    """The ledger entry for an injection on ``function`` (a configuration read from Lambda),
    or on its alias ``qualifier``."""
    # arn:aws:lambda:<region>:<account>:function:<name>
    arn = str(function.get("FunctionArn") or "").split(":")
    return ledger.Entry(
        account=arn[4] if len(arn) > 4 else "",
        region=arn[3] if len(arn) > 3 else "",
        function_name=function["FunctionName"],
        injection_name=injection_name.lower(),
        qualifier=qualifier,
        endpoint_url=resolve_endpoint_url(configuration),
        configuration=configuration,
        secrets=secrets,
    )


def _latest_step(
    lam: Any,
    function_name: str,
    qualifier: Optional[str],
    what: str,
    undo: Union[Callable[[dict[str, str]], dict[str, str]], Mapping[str, Optional[str]]],
) -> ContextManager[None]:
    """The ledger step of a write into $LATEST, undone when cut short: ``undo`` is a merge
    that finishes a removal, or the values an enable replaced (None: absent), put back. An
    alias's writes record their own steps (``targets.alias``)."""
    if qualifier is not None:
        return contextlib.nullcontext()
    merge = latest.restoring(undo) if isinstance(undo, Mapping) else undo
    return ledger.step(
        f"{what} ($LATEST written)", lambda: latest.update(lam, function_name, merge)
    )


def _settle_failed_enable(lam: Any, entry: ledger.Entry, key: str) -> None:
    """After an enable failed: forget the entry if the variable is not on the function."""
    try:
        present = key in targets.variables(lam, entry.function_name, entry.qualifier)
    except ActivityFailed:
        present = True  # cannot tell: keep it for the safeguard
    if not present:
        ledger.record_removed(entry)
        return
    logger.warning(
        "chaosthundra: injection '%s' may be on '%s' although enabling it failed; the "
        "safeguard control removes it at the end of the run (or run "
        "`chaosthundra clear --function %s`)",
        entry.injection_name,
        entry.function_name,
        entry.function_name,
    )


def _enable_timeout(function_name: str, configuration: Configuration) -> float:
    """``chaosthundra_enable_timeout_seconds``: how long an enable waits for the change."""
    value = (configuration or {}).get(ENABLE_TIMEOUT_KEY, DEFAULT_ENABLE_TIMEOUT_SECONDS)
    if isinstance(value, str):  # from `chaos run --var`
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise ActivityFailed(
            f"chaosthundra: cannot enable an injection on Lambda function '{function_name}': "
            f"{ENABLE_TIMEOUT_KEY} must be a number of seconds above 0 and at most 3600, got "
            f"{value!r}. Set it in the experiment's configuration, or leave it out "
            f"(default {DEFAULT_ENABLE_TIMEOUT_SECONDS:g})."
        )
    return float(value)
