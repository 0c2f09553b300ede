"""Run by the agent check in a throwaway interpreter (``python -I -S``): never imported.

It puts the folders named in ``CHAOSTHUNDRA_PROBE_PATH`` first on ``sys.path`` (the
function's package, or the folder where the agent is installed), imports the agent's
listener parser (``CHAOSTHUNDRA_PROBE_MODULE``), which reads the listener variable set
in its environment, and prints one JSON line describing the listeners the agent
built, the errors it logged, and the agent's version. Standard library only.
"""

import json
import logging
import os
import sys


def _listener(listener):
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


def _filter(span_filter):
    if hasattr(span_filter, "filters"):
        return {
            "composite": True,
            "all": span_filter.all,
            "filters": [_filter(f) for f in span_filter.filters],
        }
    return {
        "className": span_filter.class_name,
        "operationName": span_filter.operation_name,
        "domainName": span_filter.domain_name,
        "tags": span_filter.tags,
        "reverse": bool(span_filter.reverse),
    }


def main():
    paths = [p for p in os.environ.get("CHAOSTHUNDRA_PROBE_PATH", "").split(os.pathsep) if p]
    sys.path[:0] = paths
    errors = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())

    agent_logger = logging.getLogger(os.environ["CHAOSTHUNDRA_PROBE_LOGGER"])
    agent_logger.addHandler(Collect())
    agent_logger.propagate = False
    import importlib
    import importlib.metadata

    trace_support = importlib.import_module(os.environ["CHAOSTHUNDRA_PROBE_MODULE"])
    described = []
    for listener in trace_support.get_span_listeners():
        entry = {"type": type(listener).__name__}
        if entry["type"] == "FilteringSpanListener":
            inner = listener.listener
            entry["listener"] = _listener(inner) if inner is not None else None
            filterer = listener.filterer
            entry["filters"] = [_filter(f) for f in getattr(filterer, "span_filters", [])]
            entry["all"] = bool(getattr(filterer, "all_mandatory", False))
        described.append(entry)
    try:
        version = importlib.metadata.version("thundra")
    except importlib.metadata.PackageNotFoundError:
        version = None
    print(json.dumps({"listeners": described, "errors": errors, "version": version}))


if __name__ == "__main__":
    main()
