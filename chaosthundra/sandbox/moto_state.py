"""Everything that reads or writes moto's in-process state, in one place.

The invoke path needs a function's configuration on every request. Reading it from
moto's Lambda backend in the same process costs microseconds, where a GetFunction
call through HTTP would cost milliseconds, so this module is the one place that
knows moto's internals (backends and model attributes).

moto's state is global to the process: sandboxes started in one process share it,
and share it with any other moto server or ``mock_aws`` there. Nothing here resets it.

Every moto name used here is listed, with the reason, in :mod:`.moto_internals`. The
moto bugs worked around here are in ``docs/moto-notes.md``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core import utils as moto_utils
from moto.core.base_backend import AccountSpecificBackend
from moto.iam.models import get_account_id_from
from moto.logs.models import logs_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

from .errors import ApiError
from .function_states import STATES, FunctionRecord

__all__ = [
    "FunctionSpec",
    "MotoRequestHandler",
    "wsgi_app",
    "account_for_request",
    "alias_routing",
    "aliases_routing",
    "arn_of",
    "code_bytes",
    "code_by_sha256",
    "detach",
    "detached_copy",
    "find_function",
    "function_record",
    "lambda_object",
    "name_of",
    "number_published",
    "published_count",
    "put_log_lines",
    "sha256_hex_of",
    "share_service_models",
    "touch",
]

PENDING_MESSAGE = (
    "The operation cannot be performed at this time. "
    "The function is currently in the following state: Pending"
)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d+/([^/]+)/")
_logs_lock = threading.Lock()
_known_streams: set[tuple[str, str, str, str]] = set()
_share_lock = threading.Lock()
_sharers = 0  # sandboxes running with share_service_models in place
_moto_own: Optional[tuple[Any, Any]] = None  # moto's hooks, while replaced


def share_service_models(session: Any) -> Callable[[], None]:
    """Let moto read botocore's service models through ``session`` (a boto3 session),
    for as long as a sandbox runs; returns what puts moto's own back.

    moto keeps a boto3 session of its own to list a service's regions, and a new
    botocore loader each time it parses a service's requests; both load the
    service's whole model. Given the session the sandbox's clients come from,
    botocore loads each model once per process instead of three times.

    moto's backends are module-level, one set per process shared by every sandbox in
    it, so the two hooks are replaced for the process while any sandbox runs: the
    first sandbox to start installs its session's, and when the last one stops (each
    calls what this returns, once) moto's own are put back, as they were.
    """
    global _sharers, _moto_own
    with _share_lock:
        if _sharers == 0:
            _moto_own = (
                AccountSpecificBackend.__dict__["get_session"],
                moto_utils._load_service_model,
            )
            loader = session._session.get_component("data_loader")
            AccountSpecificBackend.get_session = classmethod(lambda cls: session)  # type: ignore[method-assign,assignment]
            moto_utils._load_service_model = loader.load_service_model
        _sharers += 1
    undone = threading.Event()

    def put_back() -> None:
        global _sharers, _moto_own
        with _share_lock:
            if undone.is_set():
                return
            undone.set()
            _sharers -= 1
            if _sharers == 0 and _moto_own is not None:
                AccountSpecificBackend.get_session, moto_utils._load_service_model = _moto_own  # type: ignore[method-assign]
                _moto_own = None

    return put_back


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


def _api_error(exc: LambdaClientError) -> ApiError:
    return ApiError(exc.code, exc.error_type, exc.message)


def published_count(account_id: str, region: str, name: str) -> int:
    """How many versions moto holds for the function."""
    functions = lambda_backends[account_id][region]._lambdas._functions
    return len((functions.get(name) or {}).get("versions") or [])


def number_published(
    account_id: str, region: str, name: str, count_before: int, last_number: int
) -> Optional[str]:
    """Number the version moto just published as Lambda does, one above every number the
    function ever had; None when moto published nothing new.

    moto numbers a new version len(versions) + 1, which gives out a number again once
    a version other than the highest was deleted (or the highest was).
    """
    storage = lambda_backends[account_id][region]._lambdas
    versions = storage._functions[name]["versions"]
    if len(versions) <= count_before:
        return None
    new, earlier = versions[-1], versions[:-1]
    number = max([last_number, *(int(v.version) for v in earlier)]) + 1
    if int(new.version) != number:
        clash = next((v for v in earlier if str(v.version) == str(new.version)), None)
        if clash is not None:  # moto's publish overwrote the earlier version's ARN entry
            storage._arns[clash.function_arn] = clash
        else:
            storage._arns.pop(new.function_arn, None)
        new.set_version(number)
        storage._arns[new.function_arn] = new
    return str(number)


def lambda_object(
    account_id: str, region: str, name_or_arn: str, qualifier: Optional[str] = None
) -> Any:
    """moto's object for a function (``$LATEST``, a version, or an alias's version).

    Raises :class:`ApiError` as Lambda would (404 ResourceNotFoundException...).
    """
    try:
        return lambda_backends[account_id][region].get_function(name_or_arn, qualifier)
    except LambdaClientError as exc:
        raise _api_error(exc) from None


def function_record(account_id: str, region: str, latest: Any) -> FunctionRecord:
    """The settled control-plane record of the function whose ``$LATEST`` is ``latest``."""
    return STATES.current((account_id, region, latest.function_name), latest)


def find_function(
    account_id: str, region: str, name_or_arn: str, qualifier: Optional[str]
) -> tuple[Any, FunctionSpec]:
    """The moto function object and its :class:`FunctionSpec`.

    For ``$LATEST`` (directly or through an alias) this is the configuration an
    environment starts from: while an update is in progress, the one before it.
    Raises :class:`ApiError` as Lambda would (404 ResourceNotFoundException, 409
    while the function is Pending...).
    """
    fn = lambda_object(account_id, region, name_or_arn, qualifier)
    latest = lambda_object(account_id, region, fn.function_name)
    if fn is latest:
        record = function_record(account_id, region, latest)
        if record.pending:
            raise ApiError(409, "ResourceConflictException", PENDING_MESSAGE)
        if record.stable is not None:
            fn = record.stable
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


def alias_routing(
    account_id: str, region: str, name: str, alias: str
) -> Optional[tuple[str, dict[str, float]]]:
    """``(FunctionVersion, {version: weight})`` of an alias (its
    ``RoutingConfig.AdditionalVersionWeights``, empty when all traffic goes to the
    version), or None when ``alias`` is not one of the function's aliases."""
    try:
        found = lambda_backends[account_id][region].get_alias(alias, name)
    except LambdaClientError:
        return None
    return _routing(found)


def aliases_routing(
    account_id: str, region: str, name: str
) -> dict[str, tuple[str, dict[str, float]]]:
    """Every alias of a function: ``{alias: (version, {version: weight})}``."""
    try:
        found = lambda_backends[account_id][region].list_aliases(name)
    except LambdaClientError as exc:
        raise _api_error(exc) from None
    return {alias.name: _routing(alias) for alias in found}


def _routing(alias: Any) -> tuple[str, dict[str, float]]:
    weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    return str(alias.function_version), {str(k): float(v) for k, v in weights.items()}


def detach(fn: Any) -> Any:
    """Give ``fn`` its own copies of the containers moto shares between ``$LATEST``
    and the versions it publishes (moto's PublishVersion is a shallow copy)."""
    fn.environment_vars = dict(fn.environment_vars or {})
    fn.code = dict(fn.code or {})
    fn.layers = list(fn.layers or [])
    fn.tags = dict(fn.tags or {})
    return fn


def detached_copy(fn: Any) -> Any:
    """A copy of ``fn`` that later writes to ``fn`` do not change."""
    return detach(copy.copy(fn))


def code_by_sha256(account_id: str, region: str, name: str, sha256_hex: str) -> Optional[bytes]:
    """The zip of ``name`` (``$LATEST`` or a version) whose CodeSha256 is ``sha256_hex``."""
    try:
        functions = lambda_backends[account_id][region].list_versions_by_function(name)
    except LambdaClientError:
        return None
    for fn in functions:
        if sha256_hex_of(fn.code_sha_256) == sha256_hex:
            return code_bytes(fn) or None
    return None


def sha256_hex_of(code_sha256: str) -> str:
    """Lambda's base64 CodeSha256 as hex (what the code download URL names)."""
    try:
        return base64.b64decode(code_sha256, validate=True).hex()
    except (binascii.Error, ValueError):
        return code_sha256


def name_of(fn: Any) -> str:
    """The name of the function ``fn`` (moto's object of ``$LATEST`` or a version)."""
    name: str = fn.function_name
    return name


def arn_of(fn: Any) -> str:
    """The ARN of ``fn``, qualified for a version."""
    arn: str = fn.function_arn
    return arn


def touch(fn: Any) -> str:
    """Set ``fn``'s LastModified to now, as moto writes it, and return it: Lambda sets
    it on every update, moto keeps the creation time."""
    fn.last_modified = moto_utils.iso_8601_datetime_with_nanoseconds()
    modified: str = fn.last_modified
    return modified


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


def wsgi_app() -> Any:
    """moto's own WSGI application, which serves every AWS API it emulates."""
    return DomainDispatcherApplication(create_backend_app)
