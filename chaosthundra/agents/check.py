"""Check a listener config with the agent's own parser, as the function's runtime runs it.

Importing the agent patches botocore, redis, requests and others process-wide, so
it is never imported into the chaos process. A checker process of its own
(:mod:`chaosthundra.agents.parser_process`: ``<python> -I -S`` in an empty directory,
so neither the caller's working directory nor anything installed beside chaosthundra
can shadow a module) imports the agent's parser with only the candidate variable set,
as a function's execution environment would, describes the listeners the agent built
(``CHAOSTHUNDRA_CHECK_FULL_IMPORT=1`` has it import the whole agent first) and builds
the error as both agents do, ``error_type(error_message)``. :func:`check` compares
that with what was asked for and refuses any config the agent would reject, or would
silently change or ignore, and any error type that cannot be built from its message
alone (the injected call would raise a TypeError instead of the fault).

The checker models the function's runtime: the interpreter of its ``Runtime``
(:func:`chaosthundra.runtimes.interpreter`), with ``sys.path`` in Lambda's order: the
function's package, its layers when at hand, the runtime's own boto3 and botocore
(:func:`chaosthundra.runtimes.provided_packages`), then the interpreter's standard
library. So a boto3 or botocore error type is importable as on Lambda, and a package
that bundles its own boto3 wins. A Runtime with no interpreter here is checked on this
process's own Python, with a warning, and the answer says so (as it does when no Runtime
is given: a container image names none).

The parser is the one the function bundles when its package is at hand (so an
error type defined in the function's own code is importable); otherwise the agent
installed beside chaosthundra, and the answer says which version did the check.

What the parser built is kept on disk (``<cache>/verdicts``), keyed by the value, the
interpreter, the path and the identity of the agent's folder (its ``thundra``
dist-info, the agent package's and parser's files, the probe itself): a config already
checked costs nothing, in this process or the next, and a changed agent is asked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple, Optional, Sequence

from chaoslib.exceptions import ActivityFailed

from chaosthundra import runtimes
from chaosthundra.agents import DEFAULT, PROFILES, AgentProfile, parser_process
from chaosthundra.agents.profile import InvalidInjection
from chaosthundra.cache import cache_base, keep_json

__all__ = ["check", "describe", "setting", "Setting", "CHECK_TIMEOUT_S", "HOST_RUNTIME"]

CHECK_TIMEOUT_S = 60
# This process's own Python, named as a Runtime (python3.11).
HOST_RUNTIME = "python{}.{}".format(*sys.version_info[:2])
# Suggested instead of an error type that cannot be built from its message alone.
BUILDABLE_EXAMPLES = (
    "'boto3.exceptions.Boto3Error' (a plain Exception subclass) or a builtin such as "
    "'ConnectionError'"
)

logger = logging.getLogger("chaostoolkit")


class Setting(NamedTuple):
    """Where a check runs: the agent whose parser is used, the checker's interpreter and
    the folders before its standard library, and what to say about it."""

    parser: AgentProfile
    python: str
    folders: tuple[str, ...]
    who: str  # e.g. "from the function's package, on python3.12 (/usr/bin/python3.12)"


def check(
    config: dict,
    value: str,
    agent: AgentProfile = DEFAULT,
    package: Optional[Path] = None,
    runtime: Optional[str] = None,
    layers: Sequence[Path] = (),
) -> str:
    """Raise InvalidInjection unless the agent parses ``value`` into ``config`` and can
    build the error it names from its message.

    ``package`` is the function's unpacked deployment package, when at hand; ``runtime``
    its Runtime (None: checked on this process's own Python, and said so); ``layers``
    its unpacked layers' ``python`` folders, when at hand. Returns which agent did the
    check, and where (for example "thundra 3.0.10 from the function's package, on
    python3.12 (...)"); ActivityFailed when the parser itself cannot be run.
    """
    where = setting(agent, package, runtime, layers)
    described = describe(value, where.parser.name, where.folders, where.python)
    who = f"thundra {described.get('version') or '(version unknown)'} {where.who}"
    if where.parser is not agent:
        who += f"; {where.parser.title}'s parser: {agent.title} takes the same listener configs"
    listeners = described["listeners"]
    if len(listeners) != 1:
        reason = "; ".join(described["errors"]) or "no listener was created"
        raise InvalidInjection(f"the agent ({who}) rejected the listener config: {reason}.")
    _compare(config, listeners[0])
    return who


def setting(
    agent: AgentProfile = DEFAULT,
    package: Optional[Path] = None,
    runtime: Optional[str] = None,
    layers: Sequence[Path] = (),
) -> Setting:
    """The interpreter and path that model ``runtime`` for ``agent`` (see :func:`check`)."""
    parser, folder, source = _parser(agent, package)
    python, provided, on = _runtime(runtime)
    folders = (folder, *(str(layer) for layer in layers), *provided)
    return Setting(parser, python, folders, f"{source}, {on}")


_WARNED: set[str] = set()
_PROVIDED: dict[tuple[runtimes.Interpreter, Path], Path] = {}
_RUNTIME_LOCK = threading.Lock()


def _runtime(runtime: Optional[str]) -> tuple[str, tuple[str, ...], str]:
    """The interpreter for ``runtime``, the folder of what the runtime provides (none
    when it cannot be built), and what to say about them."""
    with _RUNTIME_LOCK:  # two checks at once do not build the same folder twice
        return _runtime_unlocked(runtime)


def _runtime_unlocked(runtime: Optional[str]) -> tuple[str, tuple[str, ...], str]:
    found = _interpreter(runtime) if runtime else None
    here = runtimes.Interpreter(Path(parser_process.HOST), sys.version_info[:2])
    on_here = f"on this machine's Python {here.version[0]}.{here.version[1]} ({here.path})"
    if found is not None:
        on = f"on {runtime} ({found.path})"
    elif not runtime:  # a container image, or a caller that does not say
        found, on = here, f"{on_here}, no Runtime given"
    else:
        found, on = here, f"{on_here}, not on {runtime}, which has no interpreter here"
        _warn_once(
            runtime,
            f"chaosthundra: the agent check of a {runtime} function runs on this machine's "
            f"Python {found.version[0]}.{found.version[1]} instead: "
            f"{runtimes.missing_interpreter_message(runtime)}",
        )
    cache = cache_base() / "runtimes"
    provided = _PROVIDED.get((found, cache))
    if provided is None or not provided.is_dir():
        try:
            provided = _PROVIDED[(found, cache)] = runtimes.provided_packages(found, cache)
        except RuntimeError as error:
            _warn_once(
                f"provided {found.path}",
                f"chaosthundra: the agent check runs without the runtime's boto3: {error}",
            )
            return _real(found), (), f"{on}, without the runtime's boto3"
    return _real(found), (str(provided),), on


def _real(found: runtimes.Interpreter) -> str:
    """The interpreter's real file: a virtual environment's python (found on PATH) and
    the one it links to run ``-I -S`` alike, and share one checker and one spare."""
    return os.path.realpath(found.path)


def _interpreter(runtime: str) -> Optional[runtimes.Interpreter]:
    """:func:`chaosthundra.runtimes.interpreter`, remembered on disk for the settings
    that choose it (confirming one runs it, a tenth of a second through a pyenv shim, which
    each process's first check would pay). An interpreter that is gone is looked up again."""
    settings = [runtime, *(os.environ.get(n, "") for n in _CHOOSERS)]
    kept = cache_base() / "interpreters" / f"{_digest(settings)}.json"
    with contextlib.suppress(OSError, ValueError, TypeError):
        path, major, minor = json.loads(kept.read_text())
        if Path(path).is_file():
            return runtimes.Interpreter(Path(path), (int(major), int(minor)))
    found = runtimes.interpreter(runtime)
    if found is not None:
        keep_json(kept, [str(found.path), *found.version])
    return found


# What chooses a Runtime's interpreter (see chaosthundra.runtimes).
_CHOOSERS = (runtimes.ENV_VARIABLE, "PATH", "PYENV_ROOT", "UV_PYTHON_INSTALL_DIR", "HOME")


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _warn_once(what: str, message: str) -> None:
    if what not in _WARNED:
        _WARNED.add(what)
        logger.warning(message)


def _parser(agent: AgentProfile, package: Optional[Path]) -> tuple[AgentProfile, str, str]:
    """The parser to use, the folder to put first on its path, and where it comes from."""
    if package is not None and (package / agent.package).is_dir():
        return agent, str(package), "from the function's package"
    for candidate in (agent, *[p for p in PROFILES if p is not agent]):
        spec = importlib.util.find_spec(candidate.package)
        if spec is not None and spec.submodule_search_locations:
            folder = str(Path(list(spec.submodule_search_locations)[0]).parent)
            return candidate, folder, "installed beside chaosthundra"
    raise ActivityFailed(
        "chaosthundra: no agent to check the listener config with: the function's package "
        "is not at hand and no agent is installed beside chaosthundra. Install it "
        "(pip install 'thundra<3.0.7') or make the function's package readable."
    )


def describe(
    value: str,
    agent_name: str,
    path: parser_process.Folders,
    python: str = parser_process.HOST,
) -> dict:
    """What the agent called ``agent_name``, imported on ``python`` with the folders of
    ``path`` first, builds from one listener variable (kept per value, interpreter, path
    and the identity of the agent there)."""
    agent = next(p for p in PROFILES if p.name == agent_name)
    full = os.environ.get("CHAOSTHUNDRA_CHECK_FULL_IMPORT") == "1"
    key = [value, full, parser_process.identity(agent, path, python)]
    kept = cache_base() / "verdicts" / f"{_digest(key)}.json"
    try:
        return json.loads(kept.read_text())
    except (OSError, ValueError):
        pass
    described = parser_process.parse(value, agent, path, CHECK_TIMEOUT_S, full, python)
    keep_json(kept, described)
    return described


def _compare(asked: dict, built: dict) -> None:
    inner_asked = asked["config"]["listener"]
    inner_built = built.get("listener")
    if built.get("type") != asked["type"] or not inner_built:
        raise InvalidInjection(f"the agent did not build a {inner_asked['type']} from the config.")
    cfg = inner_asked["config"]
    if inner_asked["type"] == "ErrorInjectorSpanListener":
        wanted = cfg["errorType"]
        got = inner_built["error_type"]
        if got.rsplit(".", 1)[-1] != wanted.rsplit(".", 1)[-1]:
            raise InvalidInjection(
                f"error_type {wanted!r} cannot be imported where the agent runs, so it would "
                f"raise {got} instead. Use a builtin exception, a boto3 or botocore type (the "
                "runtime provides them: 'boto3.exceptions.Boto3Error'), or one of a module the "
                "function's package bundles (such as 'redis.ConnectionError' with redis in it)."
            )
        unbuildable = inner_built.get("unbuildable")
        if unbuildable:
            raise InvalidInjection(
                f"error_type {wanted!r} cannot be built from a message alone, as the agent "
                f"builds the error it raises ({got.rsplit('.', 1)[-1]}(error_message) fails "
                f"with {unbuildable}), so the injected call would fail with that instead of "
                f"the fault. Use a type built from one message, such as {BUILDABLE_EXAMPLES}."
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
    if not built["filters"]:
        raise InvalidInjection(
            "the listener config has no span filter, so the agent would apply it to every "
            "span, including the function's own invocation. Give class_name (for example "
            "'Redis' or 'AWS-Lambda'), operation_name, domain_name or tags."
        )
    if built["filters"] != [_normal_filter(f) for f in asked_filters]:
        raise InvalidInjection(
            f"the agent read the span filters as {built['filters']}, not as {asked_filters}."
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
            f"the agent would use {name}={got!r} instead of {wanted!r}; "
            "choose a value it keeps as given."
        )
