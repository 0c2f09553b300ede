"""A Lambda function named as boto3 takes it, resolved to a name and a qualifier.

``function_name`` may be a name (``user-get``), a qualified name
(``user-get:live``), a function ARN (``arn:aws:lambda:<region>:<account>:function:
user-get``, optionally ``:<qualifier>``) or a partial ARN (``[<account>:]function:
user-get[:<qualifier>]``). Activities act on the name, in the region and account
of their credentials: an ARN from another region or account is refused rather than
silently aimed at a namesake. A qualifier in the name and a different ``qualifier``
argument are refused too; ``$LATEST`` in the name means no qualifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosthundra.aws import caller_account
from chaosthundra.endpoints import resolve_region

__all__ = ["FunctionName", "parse", "resolve"]

LATEST = "$LATEST"
_NAME = r"[A-Za-z0-9_-]{1,64}"
_QUALIFIER = r"\$LATEST|[A-Za-z0-9_-]{1,128}"
_ARN_RE = re.compile(
    rf"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):function:"
    rf"(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?$"
)
_PARTIAL_RE = re.compile(
    rf"^(?:(?P<account>\d{{12}}):)?function:(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?$"
)
_PLAIN_RE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?$")
_FORMS = (
    "a name is 1 to 64 letters, digits, '-' or '_' (for example 'user-get'), optionally "
    "followed by ':<alias or version>'; an ARN is "
    "arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>], a partial ARN "
    "[<account>:]function:<name>[:<qualifier>]"
)


@dataclass(frozen=True)
class FunctionName:
    """What a ``function_name`` says: the name, and what else it carries."""

    name: str
    qualifier: Optional[str] = None
    region: Optional[str] = None
    account: Optional[str] = None


def parse(function_name: Any) -> FunctionName:
    """Split ``function_name`` into its parts; ActivityFailed when it is no function name."""
    if function_name is None or (isinstance(function_name, str) and not function_name.strip()):
        raise ActivityFailed(
            f"chaosthundra: function_name is empty ({function_name!r}): give the Lambda "
            "function's name (for example 'user-get'), its ARN, or name:alias."
        )
    if not isinstance(function_name, str):
        raise ActivityFailed(
            f"chaosthundra: function_name must be text, got {function_name!r}: give the Lambda "
            "function's name (for example 'user-get'), its ARN, or name:alias."
        )
    for pattern in (_ARN_RE, _PARTIAL_RE, _PLAIN_RE):
        found = pattern.match(function_name)
        if found:
            parts = found.groupdict()
            qualifier = parts.get("qualifier")
            return FunctionName(
                name=parts["name"],
                qualifier=None if qualifier == LATEST else qualifier,
                region=parts.get("region"),
                account=parts.get("account"),
            )
    raise ActivityFailed(
        f"chaosthundra: function_name {function_name!r} is not a Lambda function name or ARN: "
        f"{_FORMS}."
    )


def resolve(
    function_name: Any,
    qualifier: Optional[str] = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> tuple[str, Optional[str]]:
    """The function's name and qualifier, checked against ``qualifier`` and, for an ARN,
    against the configured region and the credentials' account.

    ActivityFailed for a malformed name or two qualifiers; InterruptExecution for an ARN
    of another region or account."""
    parsed = parse(function_name)
    if parsed.qualifier is not None and qualifier is not None and qualifier != parsed.qualifier:
        raise ActivityFailed(
            f"chaosthundra: function_name {function_name!r} names qualifier "
            f"{parsed.qualifier!r}, but qualifier {qualifier!r} was also given. Give the "
            "qualifier once, in the name or as qualifier."
        )
    if parsed.region is not None:
        region = resolve_region(configuration)
        if parsed.region != region:
            raise InterruptExecution(
                f"chaosthundra: function_name {function_name!r} is in region {parsed.region}, "
                f"but the run is configured for {region} (aws_region, else AWS_REGION). Set "
                f"aws_region to {parsed.region}, or name a function of {region}."
            )
    if parsed.account is not None:
        account = caller_account(configuration, secrets, f"the account of {function_name!r}")
        if parsed.account != account:
            raise InterruptExecution(
                f"chaosthundra: function_name {function_name!r} is in AWS account "
                f"{parsed.account}, but the credentials in use are for account {account}, "
                "where chaosthundra acts. Use credentials for that account (a profile, or "
                "aws_assume_role_arn), or name a function of this one."
            )
    return parsed.name, qualifier if qualifier is not None else parsed.qualifier
