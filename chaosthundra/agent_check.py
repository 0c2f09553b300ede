"""Check a listener config with the Thundra agent's own parser.

Importing ``thundra`` patches botocore, redis, requests and others process-wide,
so the agent is never imported into the chaos process. A short-lived
interpreter imports it with only the candidate variable set, exactly as a
function's execution environment would, and describes the listeners the agent
built. :func:`check` compares that with what was asked for and refuses any
config the agent would reject, or would silently change or ignore.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from typing import Any

from chaosthundra.listeners import InvalidInjection

__all__ = ["check", "describe"]

_PROBE_KEY = "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_CHAOSTHUNDRA_CHECK"


def check(config: dict, value: str) -> None:
    """Raise InvalidInjection unless the agent parses ``value`` into ``config``."""
    described = describe(value)
    listeners = described["listeners"]
    if len(listeners) != 1:
        reason = "; ".join(described["errors"]) or "no listener was created"
        raise InvalidInjection(f"the Thundra agent rejected the listener config: {reason}.")
    _compare(config, listeners[0])


@functools.lru_cache(maxsize=256)
def describe(value: str) -> dict:
    """What the agent builds from one listener variable (cached per value)."""
    env = {"PATH": os.environ.get("PATH", ""), "THUNDRA_AGENT_DISABLE": "true", _PROBE_KEY: value}
    proc = subprocess.run(
        [sys.executable, "-m", "chaosthundra.agent_check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            "could not run the Thundra agent to check the listener config "
            f"(exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _compare(asked: dict, built: dict) -> None:
    inner_asked = asked["config"]["listener"]
    inner_built = built.get("listener")
    if built.get("type") != asked["type"] or not inner_built:
        raise InvalidInjection(
            f"the Thundra agent did not build a {inner_asked['type']} from the config."
        )
    cfg = inner_asked["config"]
    if inner_asked["type"] == "ErrorInjectorSpanListener":
        wanted = cfg["errorType"]
        got = inner_built["error_type"]
        if got.rsplit(".", 1)[-1] != wanted.rsplit(".", 1)[-1]:
            raise InvalidInjection(
                f"error_type {wanted!r} cannot be imported where the agent runs, so it would "
                f"raise {got} instead. Use a builtin exception or an importable dotted path "
                "such as 'redis.ConnectionError'."
            )
        _same("error_message", cfg["errorMessage"], inner_built["error_message"])
        _same("every", cfg["injectCountFreq"], inner_built["inject_count_freq"])
        _same("inject_on_finish", cfg["injectOnFinish"], inner_built["inject_on_finish"])
    else:
        for ours, theirs in (
            ("delay", "delay"),
            ("variation", "variation"),
            ("sigma", "sigma"),
            ("distribution", "distribution"),
        ):
            _same(ours, cfg[ours], inner_built[theirs])
    asked_filters = asked["config"]["filters"]
    if built["filters"] != [_normal_filter(f) for f in asked_filters]:
        raise InvalidInjection(
            f"the Thundra agent read the span filters as {built['filters']}, "
            f"not as {asked_filters}."
        )
    _same("match_all", bool(asked["config"].get("all", False)), built["all"])


def _normal_filter(f: dict) -> dict:
    return {
        "className": f.get("className"),
        "operationName": f.get("operationName"),
        "domainName": f.get("domainName"),
        "tags": f.get("tags"),
        "reverse": bool(f.get("reverse", False)),
    }


def _same(name: str, wanted: Any, got: Any) -> None:
    if wanted != got:
        raise InvalidInjection(
            f"the Thundra agent would use {name}={got!r} instead of {wanted!r}; "
            "choose a value it keeps as given."
        )


# ---------------------------------------------------------------- subprocess
def _describe_listener(listener: Any) -> dict:
    kind = type(listener).__name__
    if kind == "ErrorInjectorSpanListener":
        cls = listener.error_type
        return {
            "type": kind,
            "error_type": f"{cls.__module__}.{cls.__qualname__}",
            "error_message": listener.error_message,
            "inject_count_freq": listener.inject_count_freq,
            "inject_on_finish": bool(listener.inject_on_finish),
        }
    if kind == "LatencyInjectorSpanListener":
        return {
            "type": kind,
            "delay": listener.delay,
            "variation": listener.variation,
            "sigma": listener.sigma,
            "distribution": listener.distribution,
        }
    return {"type": kind}


def _describe_filter(span_filter: Any) -> dict:
    if hasattr(span_filter, "filters"):
        return {
            "composite": True,
            "all": span_filter.all,
            "filters": [_describe_filter(f) for f in span_filter.filters],
        }
    return {
        "className": span_filter.class_name,
        "operationName": span_filter.operation_name,
        "domainName": span_filter.domain_name,
        "tags": span_filter.tags,
        "reverse": bool(span_filter.reverse),
    }


def _main() -> None:  # pragma: no cover - runs in the child interpreter
    import logging

    errors: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())

    logging.getLogger("thundra").addHandler(_Collect())
    logging.getLogger("thundra").propagate = False
    from thundra.plugins.trace import trace_support

    described = []
    for listener in trace_support.get_span_listeners():
        entry: dict[str, Any] = {"type": type(listener).__name__}
        if entry["type"] == "FilteringSpanListener":
            inner = listener.listener
            entry["listener"] = _describe_listener(inner) if inner is not None else None
            filterer = listener.filterer
            entry["filters"] = [_describe_filter(f) for f in getattr(filterer, "span_filters", [])]
            entry["all"] = bool(getattr(filterer, "all_mandatory", False))
        described.append(entry)
    print(json.dumps({"listeners": described, "errors": errors}))


if __name__ == "__main__":
    _main()
