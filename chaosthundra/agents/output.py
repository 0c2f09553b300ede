"""Read an agent's monitoring output out of a function's log.

Thundra 2.x, with ``THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE=true``, prints its
monitoring data (invocation, spans and their tags) as one JSON line per
invocation; a span that a listener acted on carries the profile's info tag
(``thundra.span_listener.info``). Catchpoint sends its spans to its collector
only: what the function's output shows of an error injection is the injected
error's message (in the error answer, or in what the handler logged).

A ``LogType=Tail`` log is cut to its last 4 KB, which may cut the JSON line:
the functions here also work on a cut line, by looking for the tag text.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Optional

from chaosthundra.agents import PROFILES, AgentProfile

__all__ = ["has_agent_output", "injected_spans", "injected_errors", "agent_errors", "matches"]

_REPORT_MARKERS = ('"allMonitoringData"', '"dataModelVersion"', '"applicationClassName"')
_AGENT_ERRORS = (
    "couldn't parse environment variable",
    "given span listener class",
    "couldn't import",
    "Please set an API key",
)


def _logging_agents(agent: Optional[AgentProfile]) -> list[AgentProfile]:
    return [p for p in ([agent] if agent else PROFILES) if p.spans_in_log]


def has_agent_output(log: str, agent: AgentProfile) -> bool:
    """True when the log holds (part of) the agent's monitoring report, or for an agent
    that reports elsewhere, one of its own lines."""
    if not agent.spans_in_log:
        return any(e in log for e in _AGENT_ERRORS)
    return any(marker in log for marker in _REPORT_MARKERS) or agent.info_tag in log


def injected_spans(log: str, agent: Optional[AgentProfile] = None) -> list[dict]:
    """The listener info of every span a listener acted on, in log order (for ``agent``,
    or every agent that prints its spans)."""
    spans: list[dict] = []
    for profile in _logging_agents(agent):
        tag = profile.info_tag
        for line in log.splitlines():
            if tag not in line:
                continue
            parsed = _spans_of_report(line, tag)
            if parsed is None:  # a line cut by the 4 KB tail: read the tags one by one
                pattern = re.compile(re.escape(json.dumps(tag)) + r"\s*:\s*(\{[^{}]*\})")
                parsed = [_loads(m) for m in pattern.findall(line)]
            spans.extend(s for s in parsed if s is not None)
    return spans


def injected_errors(output: str, listener: dict) -> list[dict]:
    """Evidence that an error listener fired, for an agent that does not log its spans:
    each line of ``output`` (the answer and the log) holding the injected error's message.
    """
    inner = listener["config"]["listener"]
    if inner["type"] != "ErrorInjectorSpanListener":
        return []
    message = inner["config"]["errorMessage"]
    return [
        {
            "type": "error_injector_span_listener",
            "error_type": inner["config"]["errorType"],
            "error_message": message,
            "seen": line.strip()[:300],
        }
        for line in output.splitlines()
        if message and message in line
    ]


def agent_errors(log: str) -> list[str]:
    """Lines where the agent said it could not use a listener config."""
    return [line.strip() for line in log.splitlines() if any(e in line for e in _AGENT_ERRORS[:3])]


def matches(info: dict, listener: dict) -> bool:
    """True when a span's listener info comes from this listener config."""
    inner = listener["config"]["listener"]
    config = inner["config"]
    if inner["type"] == "ErrorInjectorSpanListener":
        # the agent reports the class it raised as "<class 'module.Name'>"; a type it could
        # not import shows up as the fallback Exception, which is not our fault firing
        raised = str(info.get("error_type", "")).rsplit(".", 1)[-1].rstrip("'>").split("'")[-1]
        return (
            info.get("type") == "error_injector_span_listener"
            and info.get("error_message") == config["errorMessage"]
            and info.get("inject_count_freq") == config["injectCountFreq"]
            and raised == config["errorType"].rsplit(".", 1)[-1]
        )
    return (
        info.get("type") == "latency_injector_span_listener"
        and info.get("delay") == config["delay"]
    )


def _spans_of_report(line: str, tag: str) -> Optional[list[dict]]:
    start = line.find("{")
    try:
        report = json.loads(line[start:])
    except ValueError:
        return None
    data = report.get("data", report) if isinstance(report, dict) else {}
    items: Iterable = data.get("allMonitoringData", []) if isinstance(data, dict) else []
    return [
        item["tags"][tag]
        for item in items
        if isinstance(item, dict)
        and item.get("type") == "Span"
        and isinstance(item.get("tags"), dict)
        and isinstance(item["tags"].get(tag), dict)
    ]


def _loads(text: str) -> Optional[dict]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
