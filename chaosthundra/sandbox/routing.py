"""Which function version an invoke runs: the qualifier, or an alias's routing.

An alias sends each invoke to its ``FunctionVersion`` or, by weight, to one of the
versions of ``RoutingConfig.AdditionalVersionWeights`` (the main version gets
1 - the sum of the weights). The chosen version's code and environment run, and
the function sees the alias in ``invoked_function_arn``.

Every read of a function's settings gets a sequence number, taken under one lock
with the read itself, so the pool can tell a newer read from an older one.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import moto_state
from .errors import ApiError
from .moto_state import alias_routing

__all__ = ["Target", "alias_routing", "resolve"]

_read_lock = threading.Lock()
_reads = itertools.count(1)


@dataclass(frozen=True)
class Target:
    """What one invoke runs: moto's function object, its settings, the ARN the
    function sees, and ``read_order`` (larger means read later)."""

    fn: Any
    spec: moto_state.FunctionSpec
    invoked_arn: str
    read_order: int


def pick_version(main: str, weights: dict[str, float], draw: Callable[[], float]) -> str:
    """One version by weight: ``draw()`` is uniform in [0, 1)."""
    point, bound = draw(), 0.0
    for version, weight in weights.items():
        bound += weight
        if point < bound:
            return version
    return main


def _split(name_or_arn: str, qualifier: Optional[str]) -> tuple[str, Optional[str]]:
    """The function name and the qualifier, from a name, a partial or a full ARN
    (whose own qualifier wins, as moto does)."""
    tail = name_or_arn.split(":function:", 1)[-1]
    name, _, in_name = tail.partition(":")
    return name, (in_name or qualifier)


def resolve(
    account_id: str,
    region: str,
    name_or_arn: str,
    qualifier: Optional[str],
    draw: Callable[[], float] = random.random,
) -> Target:
    """The version an invoke of ``name_or_arn`` (with ``qualifier``) runs.

    Raises :class:`ApiError` 404 as Invoke does (an unqualified miss names
    ``:$LATEST``).
    """
    name, qualifier = _split(name_or_arn, qualifier)
    version = qualifier
    if qualifier and qualifier != "$LATEST" and not qualifier.isdigit():
        routing = alias_routing(account_id, region, name, qualifier)
        if routing is not None:
            version = pick_version(*routing, draw)
    try:
        with _read_lock:
            fn, spec = moto_state.find_function(account_id, region, name, version)
            order = next(_reads)
    except ApiError as error:
        if error.status == 404 and qualifier is None:
            raise ApiError(404, error.code, f"{error.message}:$LATEST") from None
        raise
    invoked_arn = f"{spec.arn}:{qualifier}" if qualifier else spec.arn
    return Target(fn, spec, invoked_arn, order)
