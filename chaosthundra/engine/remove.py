"""Remove injections: one by name (disable), or all of this run's on a function, each
removal proven by reading the target back."""

import logging
from dataclasses import replace
from typing import Any, Callable, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra import interrupts, targets
from chaosthundra.aws import client
from chaosthundra.engine import claims, common, owners
from chaosthundra.listeners import (
    InvalidInjection,
    env_keys,
    injection_name_of,
    is_ours,
    parse_injections,
)
from chaosthundra.safety import ledger
from chaosthundra.targets.names import resolve as resolve_function

logger = logging.getLogger("chaostoolkit")


def remove_injection(
    function_name: str,
    injection_name: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    qualifier: Optional[str] = None,
    force: bool = False,
) -> dict:
    """Remove one named injection whatever its kind (safeguard, kill switch, verify)."""
    return disable(function_name, injection_name, None, qualifier, configuration, secrets, force)


def disable(
    function_name: str,
    injection_name: str,
    kind: Optional[str],
    qualifier: Optional[str],
    configuration: Configuration,
    secrets: Secrets,
    force: bool = False,
) -> dict:
    where = common.where(function_name, qualifier)
    try:
        keys = env_keys(injection_name)
    except InvalidInjection as error:
        raise ActivityFailed(
            f"chaosthundra: cannot disable an injection on {where}: {error}"
        ) from error
    common.check_qualifier(function_name, qualifier)
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
            holder = claims.other_holder(env[found.env_key], me, force)
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
        claims.log_left(injection_name.lower(), where, left[0])
        return common.summary(function_name, injection_name.lower(), label, "left", change) | {
            "holder": left[0].describe()
        }
    ledger.record_removed(
        common.ledger_entry(change.configuration, injection_name, configuration, secrets, qualifier)
    )
    if change.changed:
        logger.info("chaosthundra: disabled %s injection '%s' on %s", label, injection_name, where)
        status = "disabled"
    else:
        logger.info(
            "chaosthundra: no %s injection '%s' on %s; nothing to do", label, injection_name, where
        )
        status = "absent"
    return common.summary(function_name, injection_name.lower(), label, status, change)


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
    step = f"{what} {common.where(function_name, qualifier)}"
    with interrupts.stopping(), common.latest_step(lam, function_name, qualifier, step, merge):
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
            common.where(function_name, qualifier),
            attempt + 1,
            REMOVE_ATTEMPTS,
        )
        change = targets.update(lam, function_name, qualifier, merge)
        wrote = wrote or change.changed
    raise ActivityFailed(
        f"chaosthundra: could not {what} {common.where(function_name, qualifier)}: "
        f"{', '.join(stayed)} stayed after {REMOVE_ATTEMPTS} removals, each undone by another "
        "writer (one that writes the whole environment without RevisionId). Stop that writer, "
        f"then run `chaosthundra clear --function {function_name}`."
    )


def remove_all(
    function_name: str,
    qualifier: Optional[str] = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """What ``remove_all_injections`` does (the kill switch calls it with ``force``)."""
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    common.check_qualifier(function_name, qualifier)
    where = common.where(function_name, qualifier)
    lam = client("lambda", configuration, secrets)
    me = owners.current()
    left: dict[str, owners.Owner] = {}

    def merge(env: dict[str, str]) -> dict[str, str]:
        left.clear()
        for key in [k for k in env if is_ours(k)]:
            holder = claims.other_holder(env[key], me, force)
            if holder is None:
                env.pop(key)
            else:
                left[injection_name_of(key)] = holder
        return env

    change = _remove_proven(lam, function_name, qualifier, merge, "remove the injections on")
    removed = sorted(injection_name_of(k) for k in change.before if is_ours(k))
    removed = [name for name in removed if name not in left]
    entry = common.ledger_entry(change.configuration, "*", configuration, secrets, qualifier)
    if left:
        for name in removed:
            ledger.record_removed(replace(entry, injection_name=name))
    else:
        ledger.record_cleared(entry)
    for name, holder in sorted(left.items()):
        claims.log_left(name, where, holder)
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
