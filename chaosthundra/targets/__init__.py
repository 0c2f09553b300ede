"""Where a fault is written on Lambda: the code that talks to the Lambda API for it.

A target is a function and a qualifier: ``None`` for ``$LATEST`` (its environment,
through ``chaosthundra.targets.latest``), or an alias name (a published chaos
version and the alias's routing, written through :mod:`chaosthundra.targets.alias`,
read through :mod:`chaosthundra.targets.chaos_versions`).
"""

from __future__ import annotations

from typing import Callable, Optional

from botocore.client import BaseClient

from chaosthundra.targets import alias, chaos_versions, latest

__all__ = ["update", "variables"]

Merge = Callable[[dict[str, str]], dict[str, str]]


def update(
    lam: BaseClient,
    function_name: str,
    qualifier: Optional[str],
    merge: Merge,
    percentage: Optional[float] = None,
    current: Optional[dict] = None,
    wait_timeout: float = latest.WAIT_TIMEOUT_SECONDS,
) -> latest.Change:
    """Apply ``merge`` to the variables the target's traffic runs with, and make it live.

    ``percentage`` is the alias's share of traffic for a first injection there;
    ``current`` a configuration of ``$LATEST`` just read (unqualified only).
    """
    if qualifier is None:
        return latest.update(lam, function_name, merge, current=current, wait_timeout=wait_timeout)
    return alias.update(lam, function_name, qualifier, merge, percentage, wait_timeout)


def variables(
    lam: BaseClient, function_name: str, qualifier: Optional[str], settled: bool = False
) -> dict[str, str]:
    """The variables the target's traffic runs with, injections included; with
    ``settled``, those of ``$LATEST`` once no update is in progress."""
    if qualifier is None:
        read = latest.read_settled if settled else latest.read
        return latest.variables_of(read(lam, function_name))
    return chaos_versions.variables(lam, function_name, qualifier)
