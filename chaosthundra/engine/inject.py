"""Enable an injection: check it, claim its owner, record it in the ledger, write it
into $LATEST or an alias, and verify it when asked."""

import contextlib
import logging
from typing import Any, Callable, Mapping, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra import interrupts, targets
from chaosthundra.agents import check as agent_check
from chaosthundra.agents import parser_process
from chaosthundra.aws import client
from chaosthundra.engine import claims, common, owners
from chaosthundra.engine.remove import remove_injection
from chaosthundra.listeners import (
    InvalidInjection,
    encode,
    env_key,
    fit_value,
    parse_injections,
    span_filter,
)
from chaosthundra.safety import ledger
from chaosthundra.safety.guardrails import preflight
from chaosthundra.safety.verification import check_verifiable, verify_injection
from chaosthundra.targets import chaos_versions, routing
from chaosthundra.targets.invoke import payload_bytes

logger = logging.getLogger("chaostoolkit")


ENABLE_TIMEOUT_KEY = "chaosthundra_enable_timeout_seconds"


DEFAULT_ENABLE_TIMEOUT_SECONDS = 300.0


def enable(
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
    what = f"enable an injection on {common.where(function_name, qualifier)}"
    parser_process.warm_up()  # the agent check's checker boots while preflight reads
    common.check_qualifier(function_name, qualifier)
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
        owner = claims.claim(env.get(key), me, force, what, taken)
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
        common.ledger_entry(function, injection_name, configuration, secrets, qualifier)
    )
    try:
        with (
            interrupts.stopping(),
            common.latest_step(lam, function_name, qualifier, what, previous),
        ):
            change = targets.update(
                lam,
                function_name,
                qualifier,
                merge,
                percentage,
                current=function,
                wait_timeout=wait_timeout,
            )
    except claims.Held:
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
            common.where(function_name, qualifier),
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
        common.where(function_name, qualifier),
    )
    logger.debug("chaosthundra: listener config %s", injection.config)
    summary = common.summary(function_name, injection.name, injection.kind, status, change) | {
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
                qualifier=change.alias.version if change.alias is not None else None,
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


def _percentage(function_name: str, qualifier: Optional[str], value: Any) -> Optional[float]:
    """The alias's share of traffic to fault; only an alias can take less than 100."""
    if isinstance(value, str):  # from `chaos run --var`
        with contextlib.suppress(ValueError):
            value = float(value)
    percentage = routing.check_percentage(value)
    if qualifier is None and percentage != 100:
        raise ActivityFailed(
            f"chaosthundra: traffic_percentage {value!r} needs a qualifier: without one the "
            f"fault goes into $LATEST of '{function_name}', which every unqualified invoke "
            "runs. Give qualifier (an alias name) to fault a share of that alias's traffic."
        )
    return percentage


def _aliases_missed(lam: Any, function_name: str) -> list[str]:
    """The aliases an unqualified fault does not reach, said in the log."""
    missed = chaos_versions.aliases_beside_latest(lam, function_name)
    if missed:
        logger.warning(
            "chaosthundra: a fault in $LATEST of '%s' does not reach its aliases %s: they route "
            "to published versions. Give qualifier=<alias> to reach their traffic.",
            function_name,
            ", ".join(missed),
        )
    return missed


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
