"""The one boto3 client factory used by activities, controls and the CLI.

Configuration keys follow chaostoolkit-aws so existing experiments carry over:

- ``aws_region`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``)
- ``aws_profile_name``
- ``aws_assume_role_arn`` and ``aws_assume_role_session_name``
- ``aws_endpoint_url`` (else the standard ``AWS_ENDPOINT_URL``)

Secrets (scope ``aws``): ``aws_access_key_id``, ``aws_secret_access_key``,
``aws_session_token``.

The region, the target and the endpoint are resolved by :mod:`chaosthundra.endpoints`.
Sandbox mode (the target is the sandbox, as that module says) fails closed: clients
sign with the sandbox's dummy credentials and nothing else (configured secrets,
profiles, roles and the host's credentials are never sent), and only to an endpoint
on this machine (:func:`~chaosthundra.endpoints.target_endpoint`). With none, or one
that is not loopback, no client is made: InterruptExecution.

No default session is created or mutated. Clients, and the sessions they come from,
are cached for a few minutes (a new session costs tens of milliseconds), keyed by
everything that decides who they are: region, endpoint, the configured secrets,
profile and role, and the credential variables of the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``...), so a change of any of them takes effect
on the next call. Secrets are hashed in the key, never logged.

Control-plane clients retry throttling and transient errors (botocore's
``standard`` mode). The invoke client never retries: a retried Invoke runs the
function's code again.

A dead or wrong endpoint costs at most a few seconds: a connection is waited for
``CONNECT_TIMEOUT_SECONDS``, a control-plane call retries a failed connection only
while the whole call stays within ``CONNECTION_BUDGET_SECONDS``, and the invoke
client never retries one. The call then raises :class:`EndpointUnreachable`, an
ActivityFailed of one line: what failed, which endpoint, what to check.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from typing import Any, Optional

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ProfileNotFound,
    ProxyConnectionError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosthundra.endpoints import (
    SANDBOX_URL_ENV,
    is_sandbox,
    resolve_endpoint_url,
    resolve_region,
    target_endpoint,
)
from chaosthundra.sandbox import credentials as sandbox_credentials
from chaosthundra.sandbox.credentials import SANDBOX_CREDENTIALS, new_client

__all__ = [
    "EndpointUnreachable",
    "caller_account",
    "client",
    "invoke_client",
    "SANDBOX_CREDENTIALS",
    "INVOKE_READ_TIMEOUT",
]

logger = logging.getLogger("chaostoolkit")

# Control plane: up to 8 retries after the first attempt, backing off on throttling.
CONTROL_PLANE_RETRIES = {"max_attempts": 8, "mode": "standard"}
# Invoke: one HTTP request per call, whatever the answer.
INVOKE_RETRIES = {"total_max_attempts": 1, "mode": "standard"}
# Lambda's own maximum timeout is 900 s; the invoke client must outwait any function.
INVOKE_READ_TIMEOUT = 905
# botocore's default pool size; the invoke client gets one connection per concurrent call.
MIN_POOL_CONNECTIONS = 10
CLIENT_TTL_SECONDS = 600.0
# How long a connection is waited for, and how long a control-plane call may keep
# retrying connections that fail: a dead endpoint is reported within seconds.
CONNECT_TIMEOUT_SECONDS = 2.0
CONNECTION_BUDGET_SECONDS = 2.5
# Connection failures: any of them on the control plane (retried within the budget);
# on an invoke only those that mean the request was never sent (never retried).
CONTROL_PLANE_FAILURES = (BotoConnectionError, ConnectionClosedError)
INVOKE_NOT_SENT = (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError)
_STARTED = "chaosthundra_started"

# The environment variables from which botocore's default chain takes credentials.
CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

_clients: dict[tuple, tuple[float, BaseClient]] = {}
_sessions: dict[tuple, tuple[float, boto3.Session]] = {}
_clients_lock = threading.Lock()


class EndpointUnreachable(ActivityFailed):
    """No connection could be made to the endpoint, or it closed without an answer."""


def client(
    service: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    read_timeout: Optional[float] = None,
) -> BaseClient:
    """A control-plane boto3 client for ``service`` (standard retries)."""
    kwargs: dict[str, Any] = {
        "retries": dict(CONTROL_PLANE_RETRIES),
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    }
    if read_timeout is not None:
        kwargs["read_timeout"] = read_timeout
    return _cached(service, configuration, secrets, kwargs)


def caller_account(configuration: Configuration, secrets: Secrets, what: str) -> str:
    """The account of the credentials in use (STS); InterruptExecution naming ``what``
    when STS cannot say."""
    try:
        return str(client("sts", configuration, secrets).get_caller_identity()["Account"])
    except ClientError as error:
        raise InterruptExecution(f"chaosthundra: could not confirm {what}: {error}") from error


def invoke_client(
    configuration: Configuration = None, secrets: Secrets = None, concurrency: int = 1
) -> BaseClient:
    """A Lambda client for Invoke: one HTTP request per call, never retried.

    Its read timeout outlasts any function's timeout, and its connection pool
    holds ``concurrency`` connections, so concurrent invokes do not queue.
    """
    kwargs: dict[str, Any] = {
        "retries": dict(INVOKE_RETRIES),
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "read_timeout": INVOKE_READ_TIMEOUT,
        "max_pool_connections": max(MIN_POOL_CONNECTIONS, int(concurrency)),
    }
    return _cached("lambda", configuration, secrets, kwargs)


# ------------------------------------------------------------------ internals
def _cached(
    service: str, configuration: Configuration, secrets: Secrets, config: dict[str, Any]
) -> BaseClient:
    configuration = configuration or {}
    secrets = secrets or {}
    region = resolve_region(configuration)
    endpoint_url = target_endpoint(configuration)
    key = (
        service,
        region,
        endpoint_url,
        repr(sorted(config.items())),
        _identity(configuration, secrets),
    )
    now = time.monotonic()
    with _clients_lock:
        cached = _clients.get(key)
        if cached and now - cached[0] < CLIENT_TTL_SECONDS:
            return cached[1]
    try:
        session = _cached_session(configuration, secrets, region, key[-1], now)
        built = new_client(session, service, endpoint_url, Config(**config))
    except ProfileNotFound as error:
        source = "aws_profile_name" if configuration.get("aws_profile_name") else "AWS_PROFILE"
        raise InterruptExecution(
            f"chaosthundra: the AWS profile {error.kwargs.get('profile')!r} ({source}) does "
            "not exist. Name a profile from ~/.aws/config or ~/.aws/credentials."
        ) from error
    _report_connection_failures(built, config["retries"] == INVOKE_RETRIES, configuration)
    with _clients_lock:
        _clients[key] = (now, built)
    return built


def _report_connection_failures(
    built: BaseClient, is_invoke: bool, configuration: Configuration
) -> None:
    """Bound and report the connection failures of ``built`` (see the module docstring).

    The handler runs before botocore's own retry handler on ``needs-retry``: its delay
    wins, and its exception ends the call."""
    events = built.meta.events
    service = built.meta.service_model.service_id.hyphenize()
    hint = _what_to_check(configuration)

    def stamp(context: dict, **_: Any) -> None:
        context[_STARTED] = time.monotonic()

    def on_failure(
        attempts: int,
        caught_exception: Optional[Exception] = None,
        request_dict: Optional[dict] = None,
        operation: Any = None,
        **_: Any,
    ) -> Optional[float]:
        failures = INVOKE_NOT_SENT if is_invoke else CONTROL_PLANE_FAILURES
        if not isinstance(caught_exception, failures):
            return None
        context = (request_dict or {}).get("context") or {}
        elapsed = time.monotonic() - context.get(_STARTED, time.monotonic())
        delay = min(0.1 * 2 ** (attempts - 1), 1.0)
        if not is_invoke and elapsed + delay + CONNECT_TIMEOUT_SECONDS <= CONNECTION_BUDGET_SECONDS:
            return delay
        tries = f", {attempts} attempts in {elapsed:.1f} s" if attempts > 1 else ""
        not_run = (
            "; the invoke was not sent and was not retried: the function did not run"
            if is_invoke
            else ""
        )
        raise EndpointUnreachable(
            f"chaosthundra: could not reach {built.meta.endpoint_url} for "
            f"{getattr(operation, 'name', service)} ({_reason(caught_exception)}{tries})"
            f"{not_run}. {hint}"
        ) from caught_exception

    events.register(f"before-call.{service}", stamp, unique_id="chaosthundra-stamp")
    events.register_first(
        f"needs-retry.{service}", on_failure, unique_id="chaosthundra-connection-failures"
    )


def _reason(error: Exception) -> str:
    """Why a connection failed, in a few words."""
    if isinstance(error, ConnectTimeoutError):
        return f"no connection within {CONNECT_TIMEOUT_SECONDS:g} s"
    if isinstance(error, ConnectionClosedError):
        return "the connection was closed without an answer"
    text = str(getattr(error, "kwargs", {}).get("error") or error)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    return found.group(1).strip().lower() if found else " ".join(text.split())


def _what_to_check(configuration: Configuration) -> str:
    """What to check when the endpoint cannot be reached."""
    if is_sandbox(configuration):
        return (
            "Check that the sandbox runs there: `chaosthundra sandbox up` prints its endpoint, "
            f"which {SANDBOX_URL_ENV} (or aws_endpoint_url) must name."
        )
    if resolve_endpoint_url(configuration):
        return (
            "Check the endpoint (aws_endpoint_url, else AWS_ENDPOINT_URL): it must answer as AWS."
        )
    return f"Check the network (and HTTPS_PROXY) and the region {resolve_region(configuration)}."


def _cached_session(
    configuration: Configuration, secrets: Secrets, region: str, identity: str, now: float
) -> boto3.Session:
    """One session per identity and region, for as long as its clients are cached: a
    new session loads botocore's service models again (tens of milliseconds each)."""
    key = (region, resolve_endpoint_url(configuration), identity)
    with _clients_lock:
        cached = _sessions.get(key)
        if cached and now - cached[0] < CLIENT_TTL_SECONDS:
            return cached[1]
    session = _session(configuration, secrets, region)
    with _clients_lock:
        _sessions[key] = (now, session)
    return session


def _identity(configuration: Configuration, secrets: Secrets) -> str:
    """A digest of whatever decides the credentials a client signs with."""
    if is_sandbox(configuration):
        return "sandbox"
    parts = (
        tuple(secrets.get(k) for k in SECRET_KEYS),
        configuration.get("aws_profile_name"),
        configuration.get("aws_assume_role_arn"),
        configuration.get("aws_assume_role_session_name"),
        tuple(os.environ.get(k) for k in CREDENTIAL_ENV),
    )
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def _session(configuration: Configuration, secrets: Secrets, region: str) -> boto3.Session:
    if is_sandbox(configuration):
        if secrets.get("aws_access_key_id") or configuration.get("aws_profile_name"):
            logger.debug("chaosthundra: sandbox target; configured credentials are not used")
        return sandbox_credentials.session(region)
    kwargs: dict[str, Any] = {"region_name": region}
    profile = configuration.get("aws_profile_name")
    if secrets.get("aws_access_key_id"):
        kwargs["aws_access_key_id"] = secrets["aws_access_key_id"]
        kwargs["aws_secret_access_key"] = secrets.get("aws_secret_access_key")
        kwargs["aws_session_token"] = secrets.get("aws_session_token")
    elif profile:
        kwargs["profile_name"] = profile
    session = boto3.Session(**kwargs)

    role_arn = configuration.get("aws_assume_role_arn")
    if not role_arn:
        return session
    session_name = configuration.get("aws_assume_role_session_name") or "chaosthundra"
    logger.debug("chaosthundra: assuming role %s as %s", role_arn, session_name)
    sts = new_client(
        session,
        "sts",
        resolve_endpoint_url(configuration),
        Config(retries=dict(CONTROL_PLANE_RETRIES)),
    )
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
