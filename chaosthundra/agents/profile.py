"""What chaosthundra knows about one generation of the agent: the ``AgentProfile``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["AgentProfile", "InvalidInjection", "MARKER"]

# The marker in the names of the variables chaosthundra writes.
MARKER = "CHAOSTHUNDRA"


class InvalidInjection(ValueError):
    """An argument that would produce a config the agent rejects or ignores."""


@dataclass(frozen=True)
class AgentProfile:
    """One agent generation: naming, evidence, parser and monitoring output."""

    name: str  # the value of the configuration key ``chaosthundra_agent``
    title: str  # for messages, e.g. "Thundra 2.x"
    # naming: the agent reads every variable starting with one of ``listener_prefixes``;
    # chaosthundra writes ``<write_prefix>_CHAOSTHUNDRA_<NAME>``
    listener_prefixes: tuple[str, ...]
    write_prefix: str
    # evidence in a function configuration
    layer_handler: str
    handler_variable: str
    variable_prefix: str
    layer_marker: str
    # evidence in a deployment package: the import package, and the versions of the
    # ``thundra`` distribution (both generations are named so) that ship it
    package: str
    versions: tuple[tuple[int, ...], Optional[tuple[int, ...]]]  # [first, past-last)
    # the agent's own parser
    parser_module: str
    logger_name: str
    disable_variable: str
    # monitoring output
    info_tag: str
    report_variable: Optional[str]  # makes the agent print its spans to the log, if any
    spans_in_log: bool
    default_error_message: str
    # how to instrument a function with it (for refusals)
    instrument_hint: str

    @property
    def our_prefix(self) -> str:
        return f"{self.write_prefix}_{MARKER}_"

    def env_key(self, injection_name: str) -> str:
        """The variable holding the named injection (injection names are upper-cased)."""
        return self.our_prefix + injection_name.upper()

    def reads(self, key: str) -> bool:
        """True for a variable this agent reads as a span-listener config."""
        return any(key.upper().startswith(prefix) for prefix in self.listener_prefixes)

    def is_ours(self, key: str) -> bool:
        return key.startswith(self.our_prefix) and len(key) > len(self.our_prefix)

    def ships_in(self, version: tuple[int, ...]) -> bool:
        """True when ``thundra`` distribution ``version`` is this generation."""
        first, past_last = self.versions
        return version >= first and (past_last is None or version < past_last)

    def evidence_in(self, function: dict, variables: dict) -> Optional[str]:
        """What in a function configuration shows this agent, or None."""
        if function.get("Handler") == self.layer_handler:
            return f"handler {self.layer_handler}"
        for layer in function.get("Layers") or []:
            arn = layer.get("Arn", "") if isinstance(layer, dict) else str(layer)
            if self.layer_marker in arn.lower():
                return f"layer {arn}"
        for key in sorted(variables):
            if key.upper().startswith(self.variable_prefix) and not self.reads(key):
                return f"variable {key}"
        return None
