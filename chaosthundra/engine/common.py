"""What enable and removal share: where a change goes, its ledger entry and step,
and the summary an activity returns."""

import contextlib
import logging
from typing import Any, Callable, ContextManager, Mapping, Optional, Union

from chaoslib.types import Configuration, Secrets

from chaosthundra.endpoints import resolve_endpoint_url
from chaosthundra.safety import ledger
from chaosthundra.targets import latest, routing

logger = logging.getLogger("chaostoolkit")


def summary(function_name: str, name: str, kind: str, status: str, change: latest.Change) -> dict:
    summary = {
        "function_name": function_name,
        "injection_name": name,
        "kind": kind,
        "status": status,
        "revision_id": change.revision_id,
    }
    alias = change.alias
    if alias is not None:
        summary |= {
            "qualifier": alias.name,
            "version": alias.version,
            "base_version": alias.base_version,
            "traffic_percentage": alias.percentage,
            "routing_before": str(alias.routing_before),
            "routing": str(alias.routing_after),
        }
        if alias.moved is not None:  # a deploy moved the alias: only the fault's share went
            summary["alias_moved"] = alias.moved.to_dict()
    return summary


def where(function_name: str, qualifier: Optional[str]) -> str:
    if qualifier is None:
        return f"Lambda function '{function_name}'"
    return f"alias '{qualifier}' of Lambda function '{function_name}'"


def check_qualifier(function_name: str, qualifier: Optional[str]) -> None:
    if qualifier is not None:
        routing.check_qualifier(function_name, qualifier)


def ledger_entry(
    function: Mapping[str, Any],
    injection_name: str,
    configuration: Configuration,
    secrets: Secrets,
    qualifier: Optional[str] = None,
) -> ledger.Entry:
    """The ledger entry for an injection on ``function`` (a configuration read from Lambda),
    or on its alias ``qualifier``."""
    # arn:aws:lambda:<region>:<account>:function:<name>
    arn = str(function.get("FunctionArn") or "").split(":")
    return ledger.Entry(
        account=arn[4] if len(arn) > 4 else "",
        region=arn[3] if len(arn) > 3 else "",
        function_name=function["FunctionName"],
        injection_name=injection_name.lower(),
        qualifier=qualifier,
        endpoint_url=resolve_endpoint_url(configuration),
        configuration=configuration,
        secrets=secrets,
    )


def latest_step(
    lam: Any,
    function_name: str,
    qualifier: Optional[str],
    what: str,
    undo: Union[Callable[[dict[str, str]], dict[str, str]], Mapping[str, Optional[str]]],
) -> ContextManager[None]:
    """The ledger step of a write into $LATEST, undone when cut short: ``undo`` is a merge
    that finishes a removal, or the values an enable replaced (None: absent), put back. An
    alias's writes record their own steps (``targets.alias``)."""
    if qualifier is not None:
        return contextlib.nullcontext()
    merge = latest.restoring(undo) if isinstance(undo, Mapping) else undo
    return ledger.step(
        f"{what} ($LATEST written)", lambda: latest.update(lam, function_name, merge)
    )
