"""Check a listener config with the agent's own parser.

Importing the agent patches botocore, redis, requests and others process-wide, so
it is never imported into the chaos process. A checker process of its own
(:mod:`chaosthundra.agents.parser_process`: ``python -I -S`` in an empty directory,
so neither the caller's working directory nor anything installed beside chaosthundra
can shadow a module) imports the agent's parser with only the candidate variable set,
as a function's execution environment would, and describes the listeners the agent
built (``CHAOSTHUNDRA_CHECK_FULL_IMPORT=1`` has it import the whole agent first).
:func:`check` compares that with what was asked for and refuses any config the
agent would reject, or would silently change or ignore.

The parser is the one the function bundles when its package is at hand (so an
error type defined in the function's own code is importable); otherwise the agent
installed beside chaosthundra, and the answer says which version did the check.

What the parser built is kept on disk (``<cache>/verdicts``), keyed by the value, the
agent and the identity of the folder it was imported from (its ``thundra`` dist-info,
the agent package's and parser's files, the probe itself): a config already checked
costs nothing, in this process or the next, and a changed agent is asked again.
"""

from __future__ import annotations

# First: importing parser_process starts the spare checker, which then boots while this
# process imports chaoslib (long).
from chaosthundra.agents import DEFAULT, PROFILES, AgentProfile, parser_process

# isort: split
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Optional

from chaoslib.exceptions import ActivityFailed

from chaosthundra.agents.cache import cache_base, keep_json
from chaosthundra.listeners import InvalidInjection

__all__ = ["check", "describe", "CHECK_TIMEOUT_S"]

CHECK_TIMEOUT_S = 60


def check(
    config: dict, value: str, agent: AgentProfile = DEFAULT, package: Optional[Path] = None
) -> str:
    """Raise InvalidInjection unless the agent parses ``value`` into ``config``.

    ``package`` is the function's unpacked deployment package, when at hand. Returns
    which agent did the check (for example "thundra 3.0.10 from the function's
    package"); ActivityFailed when the parser itself cannot be run.
    """
    parser, path, source = _parser(agent, package)
    described = describe(value, parser.name, path)
    who = f"thundra {described.get('version') or '(version unknown)'} {source}"
    if parser is not agent:
        who += f", {parser.title}'s parser: {agent.title} takes the same listener configs"
    listeners = described["listeners"]
    if len(listeners) != 1:
        reason = "; ".join(described["errors"]) or "no listener was created"
        raise InvalidInjection(f"the agent ({who}) rejected the listener config: {reason}.")
    _compare(config, listeners[0])
    return who


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


def describe(value: str, agent_name: str, path: str) -> dict:
    """What the agent called ``agent_name``, imported from ``path``, builds from one
    listener variable (kept per value and the identity of the agent in ``path``)."""
    agent = next(p for p in PROFILES if p.name == agent_name)
    full = os.environ.get("CHAOSTHUNDRA_CHECK_FULL_IMPORT") == "1"
    key = [value, full, parser_process.identity(agent, path)]
    kept = (
        cache_base() / "verdicts" / f"{hashlib.sha256(json.dumps(key).encode()).hexdigest()}.json"
    )
    try:
        return json.loads(kept.read_text())
    except (OSError, ValueError):
        pass
    described = parser_process.parse(value, agent, path, CHECK_TIMEOUT_S, full)
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
