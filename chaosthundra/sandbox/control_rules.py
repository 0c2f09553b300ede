"""What Lambda's control plane checks and answers where moto does not, with no HTTP.

The checks refuse a write as Lambda does before moto sees it: environment variables
(key pattern, reserved keys, 4 KB), an update in progress or a Pending function
(409), a stale RevisionId (412), a version an alias routes to (409). The answer
fields complete what moto answers: RevisionId, State and LastUpdateStatus from the
function's record (:mod:`.function_states`), LastModified in Lambda's form, an
alias without an empty ``RoutingConfig``. :mod:`.control_plane` applies them to the
requests it forwards.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from . import moto_state
from .errors import ApiError
from .function_states import FunctionRecord

__all__ = [
    "BEING_CREATED",
    "ENV_LIMIT_BYTES",
    "RESERVED_KEYS",
    "STALE_REVISION",
    "UPDATE_IN_PROGRESS",
    "check_environment",
    "check_revision",
    "check_unreferenced",
    "check_writable",
    "lambda_time",
    "present_alias",
    "present_config",
]

ENV_LIMIT_BYTES = 4096
_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
RESERVED_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
UPDATE_IN_PROGRESS = (
    "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
)
BEING_CREATED = "The function is being created."


# --- checks before a write ---------------------------------------------------------


def check_environment(body: dict[str, Any]) -> None:
    """Refuse ``Environment.Variables`` as Lambda does: key pattern, reserved keys, 4 KB."""
    environment = body.get("Environment")
    if not isinstance(environment, dict):
        return
    variables = environment.get("Variables") or {}
    if any(not _KEY.fullmatch(str(key)) for key in variables):
        raise ApiError(
            400,
            "ValidationException",
            "1 validation error detected: Value at 'environment.variables' failed to satisfy "
            "constraint: Map keys must satisfy constraint: [Member must satisfy regular "
            "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
        )
    reserved = [key for key in variables if key in RESERVED_KEYS]
    if reserved:
        raise ApiError(
            400,
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided contains reserved keys that are "
            "currently not supported for modification. Reserved keys used in this request: "
            + ", ".join(reserved),
        )
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode("utf-8")) > ENV_LIMIT_BYTES:
        raise ApiError(
            400,
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided exceeded the 4KB limit. "
            f"String measured: {measured}",
        )


def check_writable(latest: Any, record: FunctionRecord) -> None:
    """Refuse a write while the function is Pending or an update is in progress (409)."""
    if record.pending:
        raise ApiError(409, "ResourceConflictException", moto_state.PENDING_MESSAGE)
    if record.updating:
        raise ApiError(
            409,
            "ResourceConflictException",
            UPDATE_IN_PROGRESS.format(arn=moto_state.arn_of(latest)),
        )


def check_revision(given: Optional[str], current: str) -> None:
    """Refuse a write that names a RevisionId other than the current one (412)."""
    if given and given != current:
        raise ApiError(412, "PreconditionFailedException", STALE_REVISION)


def check_unreferenced(account: str, region: str, name: str, version: str) -> None:
    """Refuse to delete a version that an alias points or routes to (409)."""
    aliases = moto_state.aliases_routing(account, region, name)
    referencing = sorted(
        alias
        for alias, (target, weights) in aliases.items()
        if target == version or version in weights
    )
    if referencing:
        raise ApiError(
            409,
            "ResourceConflictException",
            "Unable to delete version because the following aliases reference it: "
            f"[{', '.join(referencing)}]",
        )


# --- answers ------------------------------------------------------------------------


def present_config(config: dict[str, Any], record: FunctionRecord) -> None:
    """Complete one function configuration (of ``$LATEST`` or a version)."""
    if isinstance(config.get("LastModified"), str):
        config["LastModified"] = lambda_time(config["LastModified"])
    version = str(config.get("Version") or "$LATEST")
    if version == "$LATEST":
        config["RevisionId"] = record.revision
        config["State"] = record.state
        if record.pending:
            config["StateReason"] = BEING_CREATED
            config["StateReasonCode"] = "Creating"
        if "LastUpdateStatus" in config or record.updating:
            config["LastUpdateStatus"] = record.update_status
        if record.updating:
            config["LastUpdateStatusReason"] = BEING_CREATED
            config["LastUpdateStatusReasonCode"] = "Creating"
    else:
        config["RevisionId"] = record.version_revision(version)
        config["State"] = "Active"
        config["LastUpdateStatus"] = "Successful"


def present_alias(alias: dict[str, Any], record: FunctionRecord) -> None:
    """An alias as Lambda answers it: its RevisionId, and no ``RoutingConfig`` at all
    when it has no weights (AWS stores nothing for ``{"AdditionalVersionWeights":
    {}}``, where moto answers it back)."""
    alias["RevisionId"] = record.alias_revision(str(alias.get("Name")))
    if not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
        alias.pop("RoutingConfig", None)


_MOTO_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})\d*Z$")


def lambda_time(value: str) -> str:
    """A time stamp as Lambda writes LastModified (``2019-08-14T22:26:11.234+0000``),
    from moto's (``2019-08-14T22:26:11.234567000Z``); any other form is left as it is."""
    match = _MOTO_TIME.match(value)
    return f"{match.group(1)}.{match.group(2)}+0000" if match else value
