"""The one boto3 client factory used by activities, controls and the CLI.

Configuration keys follow chaostoolkit-aws so existing experiments carry over:

- ``aws_region`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``)
- ``aws_profile_name``
- ``aws_assume_role_arn`` and ``aws_assume_role_session_name``
- ``aws_endpoint_url`` (else the standard ``AWS_ENDPOINT_URL``)

Secrets (scope ``aws``): ``aws_access_key_id``, ``aws_secret_access_key``,
``aws_session_token``.

When the embedded sandbox is the target, its control sets ``aws_endpoint_url``
and ``chaosthundra_sandbox: true``; clients then use dummy credentials so the
host's real credentials are never sent anywhere.

No default session is created or mutated. Clients are cached per resolved
configuration for a few minutes (building one costs tens of milliseconds), which
also keeps assumed-role credentials well inside their lifetime. Throttling and
transient errors are retried by botocore's ``standard`` mode.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Optional

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Configuration, Secrets

__all__ = ["client", "resolve_region", "resolve_endpoint_url", "SANDBOX_CREDENTIALS"]

logger = logging.getLogger("chaostoolkit")

SANDBOX_CREDENTIALS = {
    "aws_access_key_id": "chaosthundra-sandbox",
    "aws_secret_access_key": "chaosthundra-sandbox",
}

# Attempts include the first call; "standard" mode backs off on throttling.
DEFAULT_RETRIES = {"max_attempts": 8, "mode": "standard"}
CLIENT_TTL_SECONDS = 600.0

_clients: dict[tuple, tuple[float, BaseClient]] = {}
_clients_lock = threading.Lock()


def resolve_region(configuration: Configuration = None) -> str:
    """The region from configuration, else the environment; interrupts when none."""
    configuration = configuration or {}
    region = (
        configuration.get("aws_region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise InterruptExecution(
            "chaosthundra: no AWS region set. Set 'aws_region' in the experiment's "
            "configuration, or AWS_REGION in the environment."
        )
    return str(region)


def resolve_endpoint_url(configuration: Configuration = None) -> Optional[str]:
    """The endpoint URL override (sandbox or other emulator), if any."""
    configuration = configuration or {}
    return configuration.get("aws_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or None


def _session(configuration: Configuration, secrets: Secrets, region: str) -> boto3.Session:
    secrets = secrets or {}
    kwargs: dict[str, Any] = {"region_name": region}
    if secrets.get("aws_access_key_id"):
        kwargs["aws_access_key_id"] = secrets["aws_access_key_id"]
        kwargs["aws_secret_access_key"] = secrets.get("aws_secret_access_key")
        kwargs["aws_session_token"] = secrets.get("aws_session_token")
    elif configuration.get("chaosthundra_sandbox"):
        kwargs.update(SANDBOX_CREDENTIALS)
    elif configuration.get("aws_profile_name"):
        kwargs["profile_name"] = configuration["aws_profile_name"]
    session = boto3.Session(**kwargs)

    role_arn = configuration.get("aws_assume_role_arn")
    if not role_arn:
        return session
    session_name = configuration.get("aws_assume_role_session_name") or "chaosthundra"
    logger.debug("chaosthundra: assuming role %s as %s", role_arn, session_name)
    sts = session.client(
        "sts", endpoint_url=resolve_endpoint_url(configuration), config=_config(None)
    )
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def _config(read_timeout: Optional[float]) -> Config:
    kwargs: dict[str, Any] = {"retries": dict(DEFAULT_RETRIES)}
    if read_timeout is not None:
        kwargs["read_timeout"] = read_timeout
    return Config(**kwargs)


def client(
    service: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    read_timeout: Optional[float] = None,
) -> BaseClient:
    """Build a boto3 client for ``service`` from the experiment's configuration."""
    configuration = configuration or {}
    region = resolve_region(configuration)
    endpoint_url = resolve_endpoint_url(configuration)
    secrets = secrets or {}
    key = (
        service,
        region,
        endpoint_url,
        read_timeout,
        bool(configuration.get("chaosthundra_sandbox")),
        configuration.get("aws_profile_name"),
        configuration.get("aws_assume_role_arn"),
        configuration.get("aws_assume_role_session_name"),
        secrets.get("aws_access_key_id"),
        secrets.get("aws_secret_access_key"),
        secrets.get("aws_session_token"),
    )
    now = time.monotonic()
    with _clients_lock:
        cached = _clients.get(key)
        if cached and now - cached[0] < CLIENT_TTL_SECONDS:
            return cached[1]
    session = _session(configuration, secrets, region)
    built = session.client(service, endpoint_url=endpoint_url, config=_config(read_timeout))
    with _clients_lock:
        _clients[key] = (now, built)
    return built
