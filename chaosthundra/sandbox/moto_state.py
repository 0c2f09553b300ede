"""Everything that reads or writes moto's in-process state, in one place.

The invoke path needs a function's configuration on every request. Reading it from
moto's Lambda backend in the same process costs microseconds, where a GetFunction
call through HTTP would cost milliseconds, so this module is the one place that
knows moto's internals (backends and model attributes).

moto's state is global to the process: sandboxes started in one process share it,
and share it with any other moto server or ``mock_aws`` there. Nothing here resets it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Optional

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import get_account_id_from
from moto.logs.models import logs_backends

from .errors import ApiError

__all__ = [
    "FunctionSpec",
    "account_for_request",
    "code_bytes",
    "find_function",
    "put_log_lines",
]

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d+/([^/]+)/")
_logs_lock = threading.Lock()
_known_streams: set[tuple[str, str, str, str]] = set()


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment is built from, read from moto at invoke time.

    ``fingerprint`` changes with any setting an environment depends on (code,
    handler, runtime, timeout, memory, variables). moto does not bump
    ``LastModified`` or a RevisionId on UpdateFunctionConfiguration, so environments
    are keyed by this fingerprint instead.
    """

    account_id: str
    region: str
    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str
    reserved_concurrency: Optional[int]
    fingerprint: str

    @property
    def function_key(self) -> tuple[str, str, str]:
        """Identifies the function across versions (concurrency is per function)."""
        return (self.account_id, self.region, self.name)

    @property
    def version_key(self) -> tuple[str, str, str, str]:
        return (self.account_id, self.region, self.name, self.version)


def account_for_request(environ: dict[str, Any]) -> tuple[str, Optional[str]]:
    """The account (as moto would pick it) and the signed region of a WSGI request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth)
    region = match.group(2) if match else None
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"], region
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"], region
    if match:
        return get_account_id_from(match.group(1)), region
    return DEFAULT_ACCOUNT_ID, region


def _unqualified_arn(fn: Any) -> str:
    arn: str = fn.function_arn
    if str(fn.version) != "$LATEST" and arn.endswith(f":{fn.version}"):
        arn = arn[: -len(f":{fn.version}")]
    return arn


def find_function(
    account_id: str, region: str, name_or_arn: str, qualifier: Optional[str]
) -> tuple[Any, FunctionSpec]:
    """The moto function object and its :class:`FunctionSpec`.

    Raises :class:`ApiError` as Lambda would (404 ResourceNotFoundException...).
    """
    backend = lambda_backends[account_id][region]
    try:
        fn = backend.get_function(name_or_arn, qualifier)
        latest = backend.get_function(fn.function_name)
    except LambdaClientError as exc:
        raise ApiError(exc.code, exc.error_type, exc.message) from None
    reserved = latest.reserved_concurrency
    variables = tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items()))
    version = "$LATEST" if str(fn.version) in ("$LATEST", "") else str(fn.version)
    settings = [
        fn.code_sha_256,
        fn.handler,
        fn.run_time,
        fn.timeout,
        fn.memory_size,
        variables,
        version,
    ]
    fingerprint = hashlib.sha1(json.dumps(settings, default=str).encode()).hexdigest()
    spec = FunctionSpec(
        account_id=account_id,
        region=region,
        name=fn.function_name,
        arn=_unqualified_arn(fn),
        version=version,
        handler=fn.handler or "",
        runtime=fn.run_time or "",
        timeout=float(fn.timeout),
        memory_size=int(fn.memory_size),
        environment=variables,
        code_sha256=fn.code_sha_256,
        reserved_concurrency=None if reserved is None else int(reserved),
        fingerprint=fingerprint,
    )
    return fn, spec


def code_bytes(fn: Any) -> bytes:
    """The zip archive moto holds for a function (empty for image functions)."""
    return bytes(getattr(fn, "code_bytes", b"") or b"")


def put_log_lines(
    account_id: str, region: str, group: str, stream: str, lines: list[tuple[int, str]]
) -> None:
    """Append ``(timestamp ms, message)`` events to a CloudWatch Logs stream in moto,
    creating the group and stream on first use."""
    if not lines:
        return
    backend = logs_backends[account_id][region]
    key = (account_id, region, group, stream)
    events = [{"timestamp": ts, "message": message} for ts, message in lines]
    with _logs_lock:
        if key not in _known_streams or group not in backend.groups:
            if group not in backend.groups:
                backend.create_log_group(group, {})
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
            _known_streams.add(key)
        backend.put_log_events(group, stream, events)
