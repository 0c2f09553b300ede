"""Preflight guardrails, checked before an injection is written.

- ``chaosthundra_allowed_functions`` (configuration): names or shell-style
  patterns; a function outside the list is refused.
- ``chaosthundra_required_tag`` (configuration): ``key=value`` or ``key``; a
  function without that tag is refused.
- ``aws_expected_account_id`` (configuration): the credentials must belong to
  that account.
- The function must show the Thundra agent in its handler, layers or
  environment, or nothing injected could ever fire.

The first three raise InterruptExecution: continuing would be unsafe. A function
without the agent raises ActivityFailed that says how to instrument it.
Removing injections is never blocked by a guardrail.
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosthundra.aws import client
from chaosthundra.function_env import read, variables_of

__all__ = ["preflight", "agent_evidence", "check_allowed", "check_account"]

logger = logging.getLogger("chaostoolkit")

LAYER_HANDLER = "thundra.handler.wrapper"


def preflight(
    lam: BaseClient,
    function_name: str,
    configuration: Configuration,
    secrets: Secrets,
) -> dict:
    """Run every guardrail for an injection into ``function_name``.

    Returns the function configuration it read, for the write that follows.
    """
    configuration = configuration or {}
    check_allowed(function_name, configuration)
    check_account(configuration, secrets)
    function = read(lam, function_name)
    _check_tag(lam, function, configuration)
    if agent_evidence(function) is None:
        raise ActivityFailed(
            f"chaosthundra: Lambda function '{function_name}' shows no Thundra agent (handler "
            f"'{function.get('Handler')}', no Thundra layer, no THUNDRA_* variable), so an "
            "injection would never fire. Instrument it: either wrap the handler in code "
            "(`from thundra.thundra_agent import Thundra; thundra = Thundra(api_key=...)`, then "
            "`@thundra`) and set THUNDRA_APIKEY, or add the Thundra layer, set the handler to "
            f"'{LAYER_HANDLER}' and THUNDRA_AGENT_LAMBDA_HANDLER to the real handler."
        )
    return function


def agent_evidence(function: dict) -> Optional[str]:
    """What in a function's configuration shows the Thundra agent, or None."""
    if function.get("Handler") == LAYER_HANDLER:
        return f"handler {LAYER_HANDLER}"
    for layer in function.get("Layers") or []:
        arn = layer.get("Arn", "") if isinstance(layer, dict) else str(layer)
        if "thundra" in arn.lower():
            return f"layer {arn}"
    for key in variables_of(function):
        if key.upper().startswith("THUNDRA_") and not key.upper().startswith(
            "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG"
        ):
            return f"variable {key}"
    return None


def check_allowed(function_name: str, configuration: Configuration) -> None:
    """Refuse a function outside ``chaosthundra_allowed_functions`` when it is set."""
    allowed = (configuration or {}).get("chaosthundra_allowed_functions")
    if allowed is None:
        return
    if isinstance(allowed, str):
        allowed = [a.strip() for a in allowed.split(",") if a.strip()]
    if not any(fnmatch.fnmatchcase(function_name, pattern) for pattern in allowed):
        raise InterruptExecution(
            f"chaosthundra: Lambda function '{function_name}' is not in "
            f"chaosthundra_allowed_functions {list(allowed)}; refusing to inject. Add it to the "
            "allowlist in the experiment's configuration if it is a legitimate target."
        )


def check_account(configuration: Configuration, secrets: Secrets) -> None:
    """Refuse to go on when the credentials are not for ``aws_expected_account_id``."""
    expected = (configuration or {}).get("aws_expected_account_id")
    if not expected:
        return
    try:
        actual = client("sts", configuration, secrets).get_caller_identity()["Account"]
    except ClientError as error:
        raise InterruptExecution(
            f"chaosthundra: could not confirm the AWS account (expected {expected}): {error}"
        ) from error
    if str(actual) != str(expected):
        raise InterruptExecution(
            f"chaosthundra: the credentials in use are for AWS account {actual}, not the "
            f"expected {expected} (aws_expected_account_id); refusing to inject. Check the "
            "profile, role or credentials the experiment runs with."
        )


def _check_tag(lam: BaseClient, function: dict, configuration: Configuration) -> None:
    required = configuration.get("chaosthundra_required_tag")
    if not required:
        return
    key, _, value = str(required).partition("=")
    name = function["FunctionName"]
    try:
        tags = lam.list_tags(Resource=function["FunctionArn"]).get("Tags", {})
    except ClientError as error:
        raise InterruptExecution(
            f"chaosthundra: could not read the tags of '{name}' to check "
            f"chaosthundra_required_tag {required!r}: {error}"
        ) from error
    if key not in tags or ("=" in str(required) and tags[key] != value):
        raise InterruptExecution(
            f"chaosthundra: Lambda function '{name}' lacks the tag {required!r} required by "
            f"chaosthundra_required_tag (its tags: {tags or 'none'}); refusing to inject. Tag "
            "the function if it is a legitimate target."
        )
