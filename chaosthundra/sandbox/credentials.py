"""The sandbox's dummy credentials, and the boto3 sessions and clients signed with them.

Every request to the sandbox is signed with these (never the host's credentials): its
own deployment, the functions inside it (see :mod:`.environment`), and
``chaosthundra.aws`` when the target is the sandbox. One session per region serves
them all, so botocore loads each service model once per process.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["SANDBOX_CREDENTIALS", "client", "new_client", "session"]

SANDBOX_CREDENTIALS = {
    "aws_access_key_id": "chaosthundra-sandbox",
    "aws_secret_access_key": "chaosthundra-sandbox",
}
# A local endpoint: a few retries on a throttle or conflict, no long back-off.
_RETRIES = {"max_attempts": 4, "mode": "standard"}

# A boto3 session is not thread-safe: every client is built under this lock.
_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def client(service: str, endpoint_url: str, region: str) -> Any:
    """The sandbox's own boto3 client for ``service`` at ``endpoint_url`` (made once:
    boto3 clients are thread-safe)."""
    from botocore.config import Config

    # Checksums only where an API requires them: a loopback upload needs no CRC32 of
    # every package on both ends (~15 ms for each 6 MB package).
    config = Config(retries=_RETRIES, request_checksum_calculation="when_required")
    return new_client(session(region), service, endpoint_url, config)


def new_client(session: Any, service: str, endpoint_url: Any, config: Any) -> Any:
    """A new client of ``session``, built under the lock that sessions need."""
    with _lock:
        return session.client(service, endpoint_url=endpoint_url, config=config)


@functools.lru_cache(maxsize=8)
def session(region: str) -> Any:
    """The one boto3 session of ``region`` signed with the sandbox's credentials (it
    reads botocore's models through :mod:`.model_cache`)."""
    import boto3

    from .model_cache import use_cache

    made = boto3.session.Session(region_name=region, **SANDBOX_CREDENTIALS)
    use_cache(made)
    return made
