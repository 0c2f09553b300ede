"""An alias's routing and what a chaos version records: values, no Lambda calls.

:class:`Routing` is where an alias sends its traffic; :class:`Mark` is what a chaos
version's Description records, enough to undo it after SIGKILL; :class:`Withdrawal`
is how a chaos version left an alias's routing (:func:`withdrawn` computes it), and
:class:`AliasRouting` what an update did to an alias (the alias part of a
``latest.Change``). The checks of an alias name and a traffic percentage come first
in every alias activity.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

from chaoslib.exceptions import ActivityFailed

__all__ = [
    "DESCRIPTION_PREFIX",
    "LATEST",
    "AliasRouting",
    "Mark",
    "Routing",
    "Withdrawal",
    "check_percentage",
    "check_qualifier",
    "same_routing",
    "taken_over",
    "withdrawn",
]

DESCRIPTION_PREFIX = "chaosthundra:"
DESCRIPTION_LIMIT = 256
LATEST = "$LATEST"

_ALIAS_RE = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")


@dataclass(frozen=True)
class Routing:
    """Where an alias sends its traffic: FunctionVersion gets what the weights leave."""

    function_version: str
    weights: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, alias: Mapping) -> Routing:
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return cls(str(alias["FunctionVersion"]), {str(k): float(v) for k, v in weights.items()})

    @classmethod
    def from_json(cls, data: Mapping) -> Routing:
        return cls(str(data["v"]), {str(k): float(v) for k, v in (data.get("w") or {}).items()})

    def to_json(self) -> dict:
        return {"v": self.function_version, "w": dict(self.weights)}

    def shares(self) -> dict[str, float]:
        """Each version's fraction of the traffic."""
        return {self.function_version: 1.0 - sum(self.weights.values()), **self.weights}

    def versions(self) -> set[str]:
        return {self.function_version, *self.weights}

    def replace(self, old: str, new: str) -> Routing:
        """The routing with ``old``'s share given to ``new``."""
        weights = dict(self.weights)
        primary = self.function_version
        if primary == old:
            primary = new
            weights.pop(new, None)  # its share now comes with FunctionVersion
        elif old in weights:
            share = weights.pop(old)
            if new != primary:
                weights[new] = weights.get(new, 0.0) + share
        return Routing(primary, weights)

    def api_arguments(self) -> dict:
        return {
            "FunctionVersion": self.function_version,
            "RoutingConfig": {"AdditionalVersionWeights": dict(self.weights)},
        }

    def __str__(self) -> str:
        return ", ".join(f"version {v} {_percent(share)}" for v, share in self.shares().items())


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100, 4):g}%"


@dataclass(frozen=True)
class Mark:
    """What a chaos version's Description records: enough to undo it after SIGKILL."""

    alias: str
    base: str
    percentage: float
    before: Routing
    injections: tuple[str, ...] = ()

    def description(self) -> str:
        body = {
            "a": self.alias,
            "b": self.base,
            "p": self.percentage,
            "r": self.before.to_json(),
            "i": list(self.injections),
        }
        text = DESCRIPTION_PREFIX + json.dumps(body, separators=(",", ":"), sort_keys=True)
        if len(text) > DESCRIPTION_LIMIT:
            # The injection names are also in the version's own environment.
            body.pop("i")
            text = DESCRIPTION_PREFIX + json.dumps(body, separators=(",", ":"), sort_keys=True)
        return text

    @classmethod
    def parse(cls, description: Optional[str]) -> Optional[Mark]:
        if not description or not description.startswith(DESCRIPTION_PREFIX):
            return None
        try:
            body = json.loads(description[len(DESCRIPTION_PREFIX) :])
            return cls(
                alias=str(body["a"]),
                base=str(body["b"]),
                percentage=float(body["p"]),
                before=Routing.from_json(body["r"]),
                injections=tuple(body.get("i") or ()),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True)
class Withdrawal:
    """How a chaos version left an alias's routing.

    ``fault_set`` is the routing the fault gave the alias; when the alias ``found``
    routes otherwise, a deploy moved it since, and only the chaos version was taken
    out (``moved``); else the routing before the fault was put back exactly.
    """

    alias: str
    version: str
    found: Routing
    fault_set: Routing
    now: Routing

    @property
    def moved(self) -> bool:
        return not same_routing(self.found, self.fault_set)

    def to_dict(self) -> dict:
        return {
            "alias": self.alias,
            "chaos_version": self.version,
            "found": str(self.found),
            "fault_set": str(self.fault_set),
            "now": str(self.now),
        }


def same_routing(one: Routing, other: Routing) -> bool:
    return (
        one.function_version == other.function_version
        and set(one.weights) == set(other.weights)
        and all(math.isclose(w, other.weights[v], abs_tol=1e-9) for v, w in one.weights.items())
    )


def taken_over(routing: Routing, old: str, new: str, percentage: Optional[float]) -> Routing:
    """The routing with ``new`` in ``old``'s place, or beside it with ``percentage``% of an
    unsplit alias."""
    unsplit = old == routing.function_version and not routing.weights
    if unsplit and percentage is not None and percentage < 100:
        return Routing(old, {new: percentage / 100})
    return routing.replace(old, new)


def withdrawn(routing: Routing, alias_name: str, chaos: str, mark: Mark) -> Withdrawal:
    """The alias's routing without the chaos version, putting back only what is still ours.

    When the alias routes as the fault left it, the routing before the fault comes
    back exactly. When a deploy moved it since (its FunctionVersion or weights),
    the chaos version's weight is dropped and nothing is added: a version the alias
    no longer routes to is never routed again. A chaos version still the alias's
    FunctionVersion gives that place to its base version, whose code and settings it
    runs (an alias must route somewhere).
    """
    fault_set = taken_over(mark.before, mark.base, chaos, mark.percentage)
    if chaos not in routing.versions():
        now = routing
    elif same_routing(routing, fault_set):
        now = mark.before
    elif chaos in routing.weights:
        now = Routing(
            routing.function_version, {v: w for v, w in routing.weights.items() if v != chaos}
        )
    else:
        now = routing.replace(chaos, mark.base)
    return Withdrawal(alias_name, chaos, routing, fault_set, now)


@dataclass
class AliasRouting:
    """What an update did to an alias, beside the variables (``latest.Change.alias``).

    ``version`` is the chaos version the alias routes to after the update (None once
    the last injection went), ``replaced_version`` the one it took the place of,
    ``base_version`` the version the fault stands in for and ``percentage`` the
    share of traffic it takes over (None when nothing changed).
    """

    name: str
    routing_before: Routing
    routing_after: Routing
    version: Optional[str]
    replaced_version: Optional[str]
    base_version: str
    percentage: Optional[float]
    # set when the last injection went from an alias a deploy had moved since the fault
    moved: Optional[Withdrawal] = None


def check_qualifier(function_name: str, qualifier: str) -> None:
    """Refuse a qualifier that is not an alias name (a version, $LATEST, junk)."""
    if isinstance(qualifier, str) and qualifier.isdigit():
        raise ActivityFailed(
            f"chaosthundra: cannot inject into version {qualifier} of Lambda function "
            f"'{function_name}': published versions are immutable, so no fault can be written "
            "into one. Target an alias that routes to it (qualifier='<alias name>'); "
            "chaosthundra then publishes a version that carries the fault and routes the alias."
        )
    if qualifier == LATEST:
        raise ActivityFailed(
            f"chaosthundra: '$LATEST' is not an alias of '{function_name}'; to inject into "
            "$LATEST, give no qualifier."
        )
    if not isinstance(qualifier, str) or not _ALIAS_RE.match(qualifier):
        raise ActivityFailed(
            f"chaosthundra: qualifier {qualifier!r} is not an alias name (1 to 128 letters, "
            "digits, '-' or '_', not only digits)."
        )


def check_percentage(percentage: object) -> float:
    """A traffic percentage in (0, 100]."""
    if (
        isinstance(percentage, bool)
        or not isinstance(percentage, (int, float))
        or not math.isfinite(percentage)
        or not 0 < percentage <= 100
    ):
        raise ActivityFailed(
            f"chaosthundra: traffic_percentage must be a number greater than 0 and at most "
            f"100, got {percentage!r}."
        )
    return float(percentage)
