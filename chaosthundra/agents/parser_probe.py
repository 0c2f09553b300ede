"""The agent check's checker process (``<python> -I -S`` on the interpreter of the function's
Runtime, started in an empty folder): never imported. Standard library only, and no
syntax newer than the oldest Python runtime's.

It may be started before anyone knows which agent it will serve (a spare, so that the
interpreter and its imports are ready when a check comes). Such a spare first imports
the standard-library modules named in ``CHAOSTHUNDRA_PROBE_WARM`` (those earlier checks
loaded; with only the standard library on its path yet, nothing else can be imported),
until its first line on stdin comes, which binds it:
``{"path": [...], "module": ..., "logger": ..., "variable": ..., "environ": {...}}``.
It puts the folders of ``path`` first on ``sys.path``, in Lambda's order (the function's
package or the folder where the agent is installed, the layers, the runtime's own
boto3 and botocore), before the interpreter's standard library, sets ``environ`` (the
agent's off switch) and then serves requests, one JSON line each on stdin:
``{"value": ..., "full": false}``. For each it sets the listener variable ``variable``
to the value, imports the agent's listener parser (``module``) afresh, which reads that
variable as a function's agent does at import, and answers one JSON line on stdout:
``{"described": ..., "stdlib": [...]}`` (the listeners the agent built, whether the
error type builds from the message alone as both agents build it, the errors the agent
logged, the agent's version; the standard-library modules loaded) or
``{"failed": traceback}``. It exits at the end of stdin, so it
ends with the process that started it.

The agent's modules are dropped before each request and imported again; what they
import (the standard library, an error type's module such as ``redis``) stays loaded,
which is what makes later checks cheap. The parser module is imported without running
the agent package's ``__init__`` (which imports every integration and its libraries,
ten times the parser's import): the parser, its config provider and its listener
classes are the agent's own, and the agent's ``__init__`` only adds integrations,
which the check disables anyway. When that lean import fails (another layout), or
with ``"full": true``, the whole agent is imported, as a function would.
"""

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import select
import sys
import traceback


def _listener(listener):
    kind = type(listener).__name__
    if kind == "ErrorInjectorSpanListener":
        cls = listener.error_type
        return {
            "type": kind,
            "error_type": f"{cls.__module__}.{cls.__qualname__}",
            "error_message": listener.error_message,
            "unbuildable": _unbuildable(cls, listener.error_message),
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


def _unbuildable(cls, message):
    """None when ``cls(message)`` builds an exception, as both agents build the one they
    raise (``error_type(error_message)``); else what goes wrong instead."""
    try:
        built = cls(message)
    except Exception as error:  # noqa: BLE001 - what the agent's call would raise
        return f"{type(error).__name__}: {error}"
    if not isinstance(built, BaseException):
        return f"it gives a {type(built).__name__}, which cannot be raised"
    return None


def _filters(span_filters):
    """The filters the agent built. Given no filters, the agent stores a filterer where
    the list belongs (thundra 2.x): that is no filter at all."""
    if not isinstance(span_filters, (list, tuple)):
        return []
    return [_filter(f) for f in span_filters]


def _filter(span_filter):
    if hasattr(span_filter, "filters"):
        return {
            "composite": True,
            "all": span_filter.all,
            "filters": _filters(span_filter.filters),
        }
    return {
        "className": span_filter.class_name,
        "operationName": span_filter.operation_name,
        "domainName": span_filter.domain_name,
        "tags": span_filter.tags,
        "reverse": bool(span_filter.reverse),
    }


def _import_parser(name, errors, full):
    """The agent's parser module, imported afresh: lean (the package's ``__init__`` not
    run) when that works, else through a full import of the agent."""
    top = name.split(".")[0]
    _drop(top)
    if not full:
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations is not None:
            sys.modules[top] = importlib.util.module_from_spec(spec)
            try:
                return importlib.import_module(name)
            except Exception:  # noqa: BLE001 - any failure: fall back to the full import
                _drop(top)
                errors.clear()
    return importlib.import_module(name)


def _drop(top):
    for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[loaded]


def _describe(value, full, errors, setup):
    variable = setup["variable"]
    os.environ[variable] = value
    try:
        trace_support = _import_parser(setup["module"], errors, full)
    finally:
        del os.environ[variable]
    described = []
    for listener in trace_support.get_span_listeners():
        entry = {"type": type(listener).__name__}
        if entry["type"] == "FilteringSpanListener":
            inner = listener.listener
            entry["listener"] = _listener(inner) if inner is not None else None
            filterer = listener.filterer
            entry["filters"] = _filters(getattr(filterer, "span_filters", None))
            entry["all"] = bool(getattr(filterer, "all_mandatory", False))
        described.append(entry)
    return {"listeners": described, "errors": list(errors), "version": _version()}


def _version():
    """The version of the first ``thundra`` distribution on the path (what
    ``importlib.metadata.version`` gives, without its import, a third of the check)."""
    for folder in sys.path:
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for name in names:
            lowered = name.lower()
            if lowered.startswith("thundra-") and lowered.endswith(".dist-info"):
                try:
                    with open(os.path.join(folder, name, "METADATA"), encoding="utf-8") as meta:
                        for line in meta:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
                except OSError:
                    continue
    return None


_NOT_WARMED = ("antigravity", "this")  # importing these does more than load them


def _warm(names):
    """Import what earlier checks needed from the standard library (any may fail),
    until the first line comes: then a check waits, and imports what it needs itself."""
    for name in names:
        if select.select([sys.stdin], [], [], 0)[0]:
            return
        if name in _NOT_WARMED:
            continue
        with contextlib.suppress(BaseException):  # one that does not import is not needed
            importlib.import_module(name)


def _stdlib_loaded(folders):
    """The public top-level standard-library modules loaded now (none from ``folders``)."""
    stdlib = os.path.dirname(os.__file__) + os.sep
    names = set()
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_"):
            continue
        where = getattr(module, "__file__", None)
        if where is None:
            if name in sys.builtin_module_names:
                names.add(name)
        elif where.startswith(stdlib) and not any(where.startswith(f) for f in folders):
            names.add(name)
    return sorted(names)


def _die_with_parent():
    """Linux: be killed when the process that started this one ends, even mid-import."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the end of stdin ends it


def main():
    _die_with_parent()
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the agent prints goes to stderr, never into an answer
    sys.stdout = sys.stderr
    _warm([n for n in os.environ.get("CHAOSTHUNDRA_PROBE_WARM", "").split(",") if n])
    first = sys.stdin.readline()  # a spare waits here until it is bound
    if not first:
        return
    setup = json.loads(first)
    os.environ.update(setup["environ"])
    sys.path[:0] = setup["path"]
    errors = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())

    agent_logger = logging.getLogger(setup["logger"])
    agent_logger.addHandler(Collect())
    agent_logger.propagate = False
    for line in sys.stdin:
        request = json.loads(line)
        errors.clear()
        try:
            answer = {"described": _describe(request["value"], request.get("full"), errors, setup)}
            answer["stdlib"] = _stdlib_loaded(setup["path"])
        except (Exception, SystemExit):  # noqa: BLE001 - what the agent raised is the answer
            answer = {"failed": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
