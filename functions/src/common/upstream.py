"""Invoking upstream-lambda, shared by caller-naive and caller.

The Lambda client's endpoint is AWS, or ``AWS_ENDPOINT_URL`` when set (boto3 reads
that variable itself). The upstream's name is ``UPSTREAM_FUNCTION`` (default
``upstream-lambda``); chaosthundra's latency injection is pinned to that name through
the span tag ``aws.lambda.name``.
"""

import functools
import json
import math
import os
from typing import Any, Optional, Tuple

import boto3
from botocore.config import Config

UPSTREAM_FUNCTION = os.environ.get("UPSTREAM_FUNCTION", "upstream-lambda")

session = boto3.session.Session()

# The naive caller's client: boto3's defaults, i.e. a 60 s read timeout and retries.
# Either one alone outlasts a caller whose Lambda timeout is a couple of seconds.
default_client = session.client("lambda")

# Bounded clients are cached per read timeout, rounded down to this step, so that
# warm invocations (which start with the same remaining time) reuse one client and
# its connection pool instead of building a new one each time.
_TIMEOUT_STEP_SECONDS = 0.25


def invoke(client: Any, payload: Any) -> Tuple[Optional[str], Any]:
    """Invoke the upstream synchronously: (FunctionError or None, decoded payload)."""
    response = client.invoke(
        FunctionName=UPSTREAM_FUNCTION,
        InvocationType="RequestResponse",
        Payload=json.dumps(payload).encode("utf-8"),
    )
    body = response["Payload"].read()
    return response.get("FunctionError"), json.loads(body) if body else None


def bounded_client(budget_seconds: float) -> Any:
    """A Lambda client that gives up within ``budget_seconds``: one attempt, no retries,
    and connect and read timeouts that fit in the budget."""
    steps = max(1, math.floor(budget_seconds / _TIMEOUT_STEP_SECONDS))
    return _bounded_client(steps)


@functools.lru_cache(maxsize=8)
def _bounded_client(steps: int) -> Any:
    read_timeout = steps * _TIMEOUT_STEP_SECONDS
    config = Config(
        connect_timeout=min(1.0, read_timeout),
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    return session.client("lambda", config=config)
