"""Find and remove chaosthundra injections across a region: `chaosthundra status/clear`.

It reads the functions' configuration and their versions, so it works after the
process that injected is gone (even killed with SIGKILL): injections in
``$LATEST``'s variables, and the versions chaosthundra published for an alias
(their Description records how to route the alias back). It only ever removes
chaosthundra's own variables and versions, whichever run owns them: it is the
kill switch, and wins over every owner.
"""

from __future__ import annotations

from typing import Iterable, Optional

from chaoslib.exceptions import ChaosException
from chaoslib.types import Configuration, Secrets

from chaosthundra import interrupts
from chaosthundra.aws import client
from chaosthundra.listeners import parse_injections
from chaosthundra.targets import chaos_versions, latest

__all__ = ["scan", "with_injections", "clear"]


def scan(
    configuration: Configuration = None,
    secrets: Secrets = None,
    function_names: Optional[Iterable[str]] = None,
) -> list[dict]:
    """Every function (or the named ones): its span-listener injections in $LATEST, and the
    chaos versions chaosthundra published for its aliases."""
    lam = client("lambda", configuration, secrets)
    if function_names:
        functions = [latest.read(lam, name) for name in function_names]
    else:
        functions = [
            fn
            for page in lam.get_paginator("list_functions").paginate()
            for fn in page["Functions"]
        ]
    return [
        {
            "function_name": fn["FunctionName"],
            "runtime": fn.get("Runtime"),
            "handler": fn.get("Handler"),
            "injections": [i.to_dict() for i in parse_injections(latest.variables_of(fn))],
            "chaos_versions": [c.to_dict() for c in chaos_versions.find(lam, [fn["FunctionName"]])],
        }
        for fn in functions
    ]


def with_injections(
    configuration: Configuration = None,
    secrets: Secrets = None,
    function_names: Optional[Iterable[str]] = None,
) -> list[str]:
    """The functions (all, or among the named ones) that hold a chaosthundra injection or
    chaos version."""
    return [
        fn["function_name"]
        for fn in scan(configuration, secrets, function_names)
        if fn["chaos_versions"] or any(i["ours"] for i in fn["injections"])
    ]


def clear(
    configuration: Configuration = None,
    secrets: Secrets = None,
    function_names: Optional[Iterable[str]] = None,
) -> list[dict]:
    """Remove chaosthundra's injections from every function that has one.

    One result per such function: what remove_all_injections returned for
    $LATEST, plus ``aliases_restored`` (routed exactly as before the fault),
    ``aliases_moved`` (aliases a deploy moved since the fault: what was found, what
    the fault had set and how the alias routes now that only the chaos version was
    taken out) and ``versions_deleted`` for its chaos versions, with ``error`` set
    when that function could not be cleared; the others are still cleared.
    SIGINT, SIGTERM and SIGHUP wait until the function in hand is cleared.
    """
    from chaosthundra.engine.remove import remove_all

    lam = client("lambda", configuration, secrets)
    results = []
    for name in with_injections(configuration, secrets, function_names):
        try:
            with interrupts.deferred(f"clearing '{name}'"):
                result = remove_all(name, force=True, configuration=configuration, secrets=secrets)
                undone = chaos_versions.undo(lam, name)
        except ChaosException as error:
            result = {"function_name": name, "removed": [], "error": str(error)}
            undone = []
        results.append(
            {
                "error": None,
                **result,
                "aliases_restored": sorted(
                    {w.alias for c in undone for w in c.withdrawals if not w.moved}
                ),
                "aliases_moved": [w.to_dict() for c in undone for w in c.withdrawals if w.moved],
                "versions_deleted": [c.version for c in undone],
            }
        )
    return results
