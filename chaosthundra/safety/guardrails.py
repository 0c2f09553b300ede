"""Preflight guardrails, checked before an injection is written.

- ``chaosthundra_allowed_functions`` (configuration): names or shell-style
  patterns; a function outside the list is refused.
- ``chaosthundra_required_tag`` (configuration): ``key=value`` or ``key``; a
  function without that tag is refused.
- ``aws_expected_account_id`` (configuration): the credentials must belong to
  that account.
- The function must run an agent (see :mod:`chaosthundra.agents.detection`), or
  nothing injected could ever fire. It is refused only when chaosthundra can tell
  that there is none: its package bundles none and its configuration shows none.
  When it cannot tell (no package to read), the configuration key
  ``chaosthundra_agent`` or ``verify`` settles it.

The first three raise InterruptExecution: continuing would be unsafe. A function
without the agent raises ActivityFailed that says how to instrument it.
Removing injections is never blocked by a guardrail.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import replace

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosthundra.agents import CONFIG_KEY, DEFAULT, PROFILES
from chaosthundra.agents.detection import Detection, detect
from chaosthundra.aws import caller_account
from chaosthundra.targets.latest import read

__all__ = ["preflight", "check_allowed", "check_account"]

logger = logging.getLogger("chaostoolkit")


def preflight(
    lam: BaseClient,
    function_name: str,
    configuration: Configuration,
    secrets: Secrets,
    verify: bool = False,
) -> tuple[dict, Detection]:
    """Run every guardrail for an injection into ``function_name``.

    Returns the function configuration it read, for the write that follows, and the
    agent it runs. ``verify``: the injection will be verified by an invoke, which
    settles an agent that cannot be told otherwise (then the default agent is assumed).
    """
    configuration = configuration or {}
    check_allowed(function_name, configuration)
    check_account(configuration, secrets)
    function = read(lam, function_name)
    _check_tag(lam, function, configuration)
    try:
        detection = detect(lam, function, configuration)
    except ValueError as error:
        raise ActivityFailed(f"chaosthundra: {error}") from error
    if detection.profile is not None:
        logger.debug(
            "chaosthundra: '%s' runs %s (%s: %s)",
            function_name,
            detection.profile.title,
            detection.how,
            detection.evidence,
        )
        return function, detection
    if detection.no_agent:
        raise ActivityFailed(
            f"chaosthundra: Lambda function '{function_name}' runs no agent: its deployment "
            f"package bundles none, and its configuration shows none (handler "
            f"'{function.get('Handler')}', no agent layer or variable), so an injection would "
            "never fire. Instrument it, then deploy it again: "
            + "; or ".join(f"for {p.title}, {p.instrument_hint}" for p in PROFILES)
            + "."
        )
    if verify:
        logger.info(
            "chaosthundra: cannot tell which agent '%s' runs (%s); assuming %s, to be "
            "verified by an invoke",
            function_name,
            detection.unavailable,
            DEFAULT.title,
        )
        return function, replace(detection, profile=DEFAULT, how="verify")
    choices = " or ".join(f'"{p.name}"' for p in PROFILES)
    raise ActivityFailed(
        f"chaosthundra: cannot tell which agent Lambda function '{function_name}' runs: its "
        f"configuration shows none and its package cannot be read ({detection.unavailable}). "
        f'Say it in the experiment\'s configuration ("{CONFIG_KEY}": {choices}), or pass '
        "verify (a payload that makes the function perform the call to break) so that an "
        "invoke proves the fault fires."
    )


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
    actual = caller_account(configuration, secrets, f"the AWS account (expected {expected})")
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
