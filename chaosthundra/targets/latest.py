"""Read → merge → write of a Lambda function's environment variables.

Every change chaosthundra makes to a function goes through :func:`update`:

1. read the current configuration and its RevisionId (where the API has one),
   after waiting out an update that is still in progress;
2. compute the new variables from the current ones (the caller's ``merge``);
3. write only ``Environment``, with that RevisionId, so a concurrent edit by
   someone else is detected instead of overwritten;
4. wait until ``LastUpdateStatus`` is ``Successful``: from then on Lambda starts
   new execution environments with the new variables.

A ResourceConflictException (another update in progress) is waited out and
retried; a PreconditionFailedException (the revision moved) re-reads and merges
again, so nobody else's change is lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError, WaiterError
from chaoslib.exceptions import ActivityFailed

from chaosthundra import interrupts
from chaosthundra.targets.routing import AliasRouting

__all__ = [
    "Change",
    "activity_failed",
    "read",
    "read_settled",
    "restoring",
    "update",
    "variables_of",
    "wait_until_updated",
]

logger = logging.getLogger("chaostoolkit")

MAX_ATTEMPTS = 8
RETRY_PAUSE_SECONDS = 1.0
WAIT_TIMEOUT_SECONDS = 300.0
# How often an update's state is read while waiting for it to be live: the fault takes
# effect at most this late after Lambda says so (4 reads a second, far under the
# control plane's limits).
POLL_SECONDS = 0.25


@dataclass
class Change:
    """What an update did: to $LATEST's variables, or with ``alias`` to an alias's.

    For an alias, ``before`` and ``after`` are the variables of the version the fault
    rides on: the base version's (with the injections it already carried) and the
    new one's; ``revision_id`` is the alias's and ``alias`` says how it routes.
    """

    function_name: str
    before: dict[str, str]
    after: dict[str, str]
    changed: bool
    revision_id: Optional[str]
    configuration: dict
    alias: Optional[AliasRouting] = None


def variables_of(configuration: Mapping) -> dict[str, str]:
    """The environment variables of a function configuration."""
    return dict(((configuration.get("Environment") or {}).get("Variables")) or {})


def read(lam: BaseClient, function_name: str) -> dict:
    """The function's current configuration; ActivityFailed when it cannot be read."""
    try:
        return lam.get_function_configuration(FunctionName=function_name)
    except ClientError as error:
        raise activity_failed("read the configuration of", function_name, error) from error


def wait_until_updated(
    lam: BaseClient, function_name: str, timeout: float = WAIT_TIMEOUT_SECONDS
) -> None:
    """Block until the function's last update is live (LastUpdateStatus Successful)."""
    try:
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=function_name,
            WaiterConfig={
                "Delay": POLL_SECONDS,
                "MaxAttempts": max(1, int(timeout / POLL_SECONDS)),
            },
        )
    except WaiterError as error:
        last = error.last_response or {}
        reason = last.get("LastUpdateStatusReason") or last.get("Error", {}).get("Message") or ""
        raise ActivityFailed(
            f"chaosthundra: the update of Lambda function '{function_name}' did not become "
            f"live (LastUpdateStatus {last.get('LastUpdateStatus')!r}). {reason} "
            "Check the function in the Lambda console, then run 'chaosthundra status'."
        ) from error


def read_settled(
    lam: BaseClient,
    function_name: str,
    current: Optional[dict] = None,
    wait_timeout: float = WAIT_TIMEOUT_SECONDS,
) -> dict:
    """The configuration once no update is in progress.

    ``current`` is a configuration just read; it is returned as it is when it shows
    no update in progress (or pending creation), otherwise read again after the wait.
    """
    if current is None:
        current = read(lam, function_name)
    if current.get("LastUpdateStatus") == "InProgress" or current.get("State") == "Pending":
        wait_until_updated(lam, function_name, wait_timeout)
        current = read(lam, function_name)
    return current


def update(
    lam: BaseClient,
    function_name: str,
    merge: Callable[[dict[str, str]], dict[str, str]],
    current: Optional[dict] = None,
    wait_timeout: float = WAIT_TIMEOUT_SECONDS,
) -> Change:
    """Apply ``merge`` to the function's current variables and make it live.

    ``merge`` receives a copy of the current variables and returns the new ones;
    it may raise to refuse the change, in which case nothing is written.
    ``current`` is a configuration the caller has just read, used for the first
    attempt instead of reading it again; every retry reads afresh.
    ``wait_timeout`` bounds each wait for an update to become live.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        current = read_settled(lam, function_name, current if attempt == 1 else None, wait_timeout)
        before = variables_of(current)
        after = merge(dict(before))
        if after == before:
            return Change(function_name, before, after, False, current.get("RevisionId"), current)
        kwargs: dict = {"FunctionName": function_name, "Environment": {"Variables": after}}
        if current.get("RevisionId"):
            kwargs["RevisionId"] = current["RevisionId"]
        try:
            lam.update_function_configuration(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ResourceConflictException", "PreconditionFailedException"):
                if attempt == MAX_ATTEMPTS:
                    raise activity_failed("update", function_name, error) from error
                logger.info(
                    "chaosthundra: %s on '%s' (attempt %d/%d), re-reading and retrying",
                    code,
                    function_name,
                    attempt,
                    MAX_ATTEMPTS,
                )
                time.sleep(RETRY_PAUSE_SECONDS * attempt)
                continue
            raise activity_failed("update", function_name, error) from error
        interrupts.checkpoint("latest-write")
        wait_until_updated(lam, function_name, wait_timeout)
        live = read(lam, function_name)
        return Change(function_name, before, after, True, live.get("RevisionId"), live)
    raise AssertionError("unreachable")  # pragma: no cover


def restoring(values: Mapping[str, Optional[str]]) -> Callable[[dict[str, str]], dict[str, str]]:
    """A merge that puts ``values`` back (None: the variable was absent)."""

    def merge(env: dict[str, str]) -> dict[str, str]:
        for key, value in values.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    return merge


def activity_failed(verb: str, function_name: str, error: ClientError) -> ActivityFailed:
    code = error.response.get("Error", {}).get("Code", "Error")
    message = error.response.get("Error", {}).get("Message", str(error))
    hint = {
        "ResourceNotFoundException": "Check the function name and the region.",
        "AccessDeniedException": "The credentials in use lack the Lambda permission for this.",
        "InvalidParameterValueException": "Lambda refused the new configuration.",
        "ResourceConflictException": "Another update kept the function busy; try again later.",
        "PreconditionFailedException": "Someone else kept changing the function; try again.",
    }.get(code, "")
    return ActivityFailed(
        f"chaosthundra: could not {verb} Lambda function '{function_name}': {code}: {message}. "
        f"{hint}".strip()
    )
