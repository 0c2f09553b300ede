"""Read the Thundra agent's monitoring output out of a function's log.

With ``THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE=true`` the agent prints its
monitoring data (invocation, spans and their tags) as one JSON line per
invocation. A span that a listener acted on carries the tag
``thundra.span_listener.info``. That is how an injection is seen from outside.

A ``LogType=Tail`` log is cut to its last 4 KB, which may cut the JSON line:
the functions here also work on a cut line, by looking for the tag text.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Optional

__all__ = ["INFO_TAG", "has_agent_output", "injected_spans", "agent_errors", "matches"]

INFO_TAG = "thundra.span_listener.info"
_REPORT_MARKERS = ('"allMonitoringData"', '"dataModelVersion"', '"applicationClassName"')
_INFO_RE = re.compile(r'"thundra\.span_listener\.info"\s*:\s*(\{[^{}]*\})')
_AGENT_ERRORS = (
    "couldn't parse environment variable",
    "given span listener class",
    "couldn't import",
    "Please set an API key",
)


def has_agent_output(log: str) -> bool:
    """True when the log holds (part of) the agent's monitoring report."""
    return any(marker in log for marker in _REPORT_MARKERS) or INFO_TAG in log


def injected_spans(log: str) -> list[dict]:
    """The listener info of every span a listener acted on, in log order."""
    spans: list[dict] = []
    for line in log.splitlines():
        if INFO_TAG not in line:
            continue
        parsed = _spans_of_report(line)
        if parsed is None:  # a line cut by the 4 KB tail: read the tags one by one
            parsed = [_loads(m) for m in _INFO_RE.findall(line)]
        spans.extend(s for s in parsed if s is not None)
    return spans


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


def _spans_of_report(line: str) -> Optional[list[dict]]:
    start = line.find("{")
    try:
        report = json.loads(line[start:])
    except ValueError:
        return None
    data = report.get("data", report) if isinstance(report, dict) else {}
    items: Iterable = data.get("allMonitoringData", []) if isinstance(data, dict) else []
    return [
        item["tags"][INFO_TAG]
        for item in items
        if isinstance(item, dict)
        and item.get("type") == "Span"
        and isinstance(item.get("tags"), dict)
        and isinstance(item["tags"].get(INFO_TAG), dict)
    ]


def _loads(text: str) -> Optional[dict]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
