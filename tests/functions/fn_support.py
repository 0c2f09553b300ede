"""Shared by the tests of the example functions: the experiments' faults, reading the
Thundra agent's output from a function's log, and small helpers."""

import json
import socket
from pathlib import Path
from typing import Any, Dict, Iterator, List

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
TEMPLATE_PATH = FUNCTIONS_DIR / "template.yaml"


# The redis-failure experiment's fault: a redis ConnectionError on every Redis GET.
REDIS_GET_ERROR = {
    "type": "FilteringSpanListener",
    "config": {
        "listener": {
            "type": "ErrorInjectorSpanListener",
            "config": {"errorType": "redis.ConnectionError", "errorMessage": "injected"},
        },
        "filters": [{"className": "Redis", "tags": {"redis.command.type": "GET"}}],
    },
}
# The upstream-latency experiment's fault: 2500 ms on the invoke of upstream-lambda.
UPSTREAM_LATENCY_MS = 2500
UPSTREAM_LATENCY = {
    "type": "FilteringSpanListener",
    "config": {
        "listener": {
            "type": "LatencyInjectorSpanListener",
            "config": {"delay": UPSTREAM_LATENCY_MS},
        },
        "filters": [{"className": "AWS-Lambda", "tags": {"aws.lambda.name": "upstream-lambda"}}],
    },
}
LISTENER_KEY = "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_CHAOSTEST"


def free_port() -> int:
    """A loopback port that nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LISTENER_INFO_TAG = "thundra.span_listener.info"


def spans(log: str) -> Iterator[Dict[str, Any]]:
    """Every span the agent printed: the JSON lines of the log, walked for Span objects."""
    for line in log.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        yield from _walk(data)


def _walk(node: Any) -> Iterator[Dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "Span" and isinstance(node.get("tags"), dict):
            yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def injected_spans(log: str) -> List[Dict[str, Any]]:
    """The spans a span listener injected into (they carry the listener's info tag)."""
    return [span for span in spans(log) if LISTENER_INFO_TAG in span["tags"]]
