"""Verified injection: invoke once the change is live and look for the injected span."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra.agents import AgentProfile
from chaosthundra.agents.output import (
    agent_errors,
    has_agent_output,
    injected_errors,
    injected_spans,
    matches,
)
from chaosthundra.targets.invoke import invoke_once
from chaosthundra.targets.logs import invocation_log, lines_since

__all__ = ["verify_injection", "check_verifiable", "MAX_VERIFY_INVOKES"]

logger = logging.getLogger("chaostoolkit")

MAX_VERIFY_INVOKES = 20
TAIL_LIMIT = 4096
# How long to wait for CloudWatch Logs when the 4 KB tail cut the agent's report.
LOG_DELIVERY_WAIT_SECONDS = 20.0


def check_verifiable(function_name: str, listener: dict, agent: AgentProfile) -> None:
    """ActivityFailed, before anything is written, when the agent leaves no trace of it."""
    inner = listener["config"]["listener"]
    if not agent.spans_in_log and inner["type"] != "ErrorInjectorSpanListener":
        raise ActivityFailed(
            f"chaosthundra: cannot verify a latency injection on '{function_name}': its agent, "
            f"{agent.title}, does not write its spans to the function's log, so a delay leaves "
            "no trace there. Run without verify and judge the effect with a probe (for example "
            "invocation_completes_within or measure_invocations)."
        )


def verify_injection(
    function_name: str,
    listener: dict,
    payload: Any,
    configuration: Configuration,
    secrets: Secrets,
    agent: AgentProfile,
    qualifier: Optional[str] = None,
) -> dict:
    """Invoke until the output shows this listener acted; ActivityFailed with the reason if not.

    The evidence is a span with the agent's info tag, or, for an agent that does not
    log its spans, the injected error's message in the answer or the log. An error
    listener with injectCountFreq N acts on 1 matching span in N, so up to N invokes
    (at most MAX_VERIFY_INVOKES) are made. ``qualifier`` is the version that carries
    the fault (an alias's chaos version), None for $LATEST.
    """
    inner = listener["config"]["listener"]
    every = int(inner["config"].get("injectCountFreq", 1))
    attempts = max(1, min(every, MAX_VERIFY_INVOKES))
    logs = []
    first_ms = int(time.time() * 1000) - 1000
    for attempt in range(1, attempts + 1):
        since_ms = int(time.time() * 1000) - 1000
        outcome = invoke_once(function_name, payload, qualifier, configuration, secrets)
        log = outcome["log_tail"]
        if _cut(log) and outcome.get("request_id"):
            log = (
                invocation_log(
                    function_name,
                    outcome["request_id"],
                    since_ms,
                    configuration,
                    secrets,
                    wait_seconds=LOG_DELIVERY_WAIT_SECONDS,
                )
                or log
            )
        logs.append(log)
        if agent.spans_in_log:
            spans = [s for s in injected_spans(log, agent) if matches(s, listener)]
        else:
            answer = json.dumps(outcome.get("payload"), ensure_ascii=False)
            spans = injected_errors(f"{answer}\n{log}", listener)
        if spans:
            logger.info(
                "chaosthundra: verified on '%s': %d injected span(s) on invoke %d",
                function_name,
                len(spans),
                attempt,
            )
            return {
                "verified": True,
                "invocations": attempt,
                "injected_spans": len(spans),
                "request_id": outcome.get("request_id"),
                "span_info": spans[0],
            }
    # The agent complains at cold start, before the invocation's START line: read everything
    # the function logged since the change went live, not only the invocations' own lines.
    logs.extend(lines_since(function_name, first_ms, configuration, secrets))
    raise ActivityFailed(
        f"chaosthundra: could not verify the injection on '{function_name}': "
        + _reason(logs, attempts, agent)
    )


def _cut(log: str) -> bool:
    return len(log.encode("utf-8")) >= TAIL_LIMIT - 64 and not log.startswith("START RequestId")


def _reason(logs: list, attempts: int, agent: AgentProfile) -> str:
    everything = "\n".join(logs)
    rejected = agent_errors(everything)
    if rejected:
        return f"the agent rejected the listener config ({rejected[0][:300]})."
    if not has_agent_output(everything, agent):
        report = f" and set {agent.report_variable}=true" if agent.report_variable else ""
        return (
            "no agent output in the function's log: the function does not seem to run the "
            f"{agent.title} agent, or its report is off. Instrument it ({agent.instrument_hint})"
            f"{report}."
        )
    return (
        f"no matching span in {attempts} verification invoke(s): the agent ran, but the filter "
        "matched no span. Check class_name/operation_name/tags, and that the verify payload "
        "makes the function perform the call you want to break."
    )
