"""The sandbox's dummy credentials, and the boto3 clients the sandbox itself uses.

Every request to the sandbox is signed with these (never the host's credentials): its
own deployment, the functions inside it (see :mod:`.environment`), and
``chaosthundra.aws`` when the target is the sandbox.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["SANDBOX_CREDENTIALS", "client"]

SANDBOX_CREDENTIALS = {
    "aws_access_key_id": "chaosthundra-sandbox",
    "aws_secret_access_key": "chaosthundra-sandbox",
}
# A local endpoint: a few retries on a throttle or conflict, no long back-off.
_RETRIES = {"max_attempts": 4, "mode": "standard"}


_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client for ``service`` of the sandbox at ``endpoint_url`` (made once:
    boto3 clients are thread-safe; one session keeps the service models loaded)."""
    from botocore.config import Config

    with _lock:  # a boto3 session is not thread-safe
        return _session(region).client(
            service, endpoint_url=endpoint_url, config=Config(retries=_RETRIES)
        )


@functools.lru_cache(maxsize=8)
def _session(region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region, **SANDBOX_CREDENTIALS)
