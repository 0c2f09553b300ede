"""A function's log lines from CloudWatch Logs (/aws/lambda/NAME)."""

from __future__ import annotations

import time
from typing import Optional

from botocore.exceptions import ClientError
from chaoslib.types import Configuration, Secrets

from chaosthundra.aws import client
from chaosthundra.targets.latest import activity_failed

__all__ = ["lines_since", "invocation_log"]


def lines_since(
    function_name: str,
    since_ms: int,
    configuration: Configuration = None,
    secrets: Secrets = None,
    contains: Optional[str] = None,
) -> list[str]:
    """Every log line of the function since ``since_ms`` (epoch ms), in time order."""
    logs = client("logs", configuration, secrets)
    kwargs = {"logGroupName": f"/aws/lambda/{function_name}", "startTime": int(since_ms)}
    if contains:
        kwargs["filterPattern"] = f'"{contains}"'
    events = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
            events.extend(page.get("events", []))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []  # the function has not logged anything yet
        raise activity_failed("read the logs of", function_name, error) from error
    events.sort(key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))
    return [e.get("message", "").rstrip("\n") for e in events]


def invocation_log(
    function_name: str,
    request_id: str,
    since_ms: int,
    configuration: Configuration = None,
    secrets: Secrets = None,
    wait_seconds: float = 0.0,
) -> str:
    """The log of one invocation (START to END of ``request_id``), polling while it arrives."""
    deadline = time.monotonic() + wait_seconds
    while True:
        lines = lines_since(function_name, since_ms, configuration, secrets)
        taken, inside = [], False
        for line in lines:
            if line.startswith(f"START RequestId: {request_id}"):
                inside = True
            if inside:
                taken.append(line)
            if line.startswith(f"END RequestId: {request_id}"):
                return "\n".join(taken)
        if time.monotonic() >= deadline:
            return "\n".join(taken)
        time.sleep(1.0)
