"""The agents that functions run, one profile per generation.

- :data:`THUNDRA`: Thundra 2.x (and ``thundra`` 3.0.0 to 3.0.6), package ``thundra``;
- :data:`CATCHPOINT`: ``thundra`` 3.0.7 and later, package ``catchpoint``.

No module outside this package names an agent: they ask a profile.
"""

from __future__ import annotations

import re
from typing import Optional

from chaosthundra.agents.catchpoint import CATCHPOINT
from chaosthundra.agents.profile import MARKER, AgentProfile
from chaosthundra.agents.thundra import THUNDRA

__all__ = [
    "AgentProfile",
    "CATCHPOINT",
    "CONFIG_KEY",
    "DEFAULT",
    "LEGACY_NOTE",
    "MARKER",
    "PROFILES",
    "THUNDRA",
    "by_name",
    "is_legacy",
    "reader_of",
]

PROFILES: tuple[AgentProfile, ...] = (THUNDRA, CATCHPOINT)
DEFAULT = THUNDRA
# The configuration key that says which agent a function runs.
CONFIG_KEY = "chaosthundra_agent"

# The origin's serverless.yml syntax, which no current agent parses:
#   thundra_agent_lambda_trace_span_listener: FilteringSpanListener[...]
_LEGACY_KEY = "THUNDRA_AGENT_LAMBDA_TRACE_SPAN_LISTENER"
_LEGACY_VALUE = re.compile(r"^\s*\w*SpanListener\s*\[")
LEGACY_NOTE = (
    "legacy bracket syntax (Name[key=value,...]) of the origin's serverless.yml: no current "
    "agent reads it; write the listener as JSON under the agent's prefix instead"
)


def by_name(name: str) -> AgentProfile:
    """The profile called ``name`` ("thundra" or "catchpoint"); ValueError otherwise."""
    for profile in PROFILES:
        if profile.name == str(name).strip().lower():
            return profile
    choices = " or ".join(repr(p.name) for p in PROFILES)
    raise ValueError(f"{CONFIG_KEY} is {name!r}: use {choices}.")


def reader_of(key: str) -> Optional[AgentProfile]:
    """The agent that reads variable ``key`` as a span-listener config, if any."""
    for profile in PROFILES:
        if profile.reads(key):
            return profile
    return None


def is_legacy(key: str, value: str) -> bool:
    """True for a listener written in the origin's bracket syntax."""
    if reader_of(key) is not None:
        return False
    return key.upper().startswith(_LEGACY_KEY) or bool(_LEGACY_VALUE.match(value or ""))
