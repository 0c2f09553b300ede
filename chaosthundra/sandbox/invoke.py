"""The Lambda Invoke API: ``POST /2015-03-31/functions/{name}/invocations`` and the
legacy ``POST /2014-11-13/functions/{name}/invoke-async/``.

Answers as Lambda does: 200 with ``X-Amz-Executed-Version`` (plus
``X-Amz-Function-Error: Unhandled`` when the function failed and
``X-Amz-Log-Result`` for ``LogType=Tail``), 202 for ``Event``, 204 for ``DryRun``,
429 ``TooManyRequestsException`` over the reserved concurrency, 413 over 6 MB
(however the body is sent). The error payloads the service itself writes (timeout,
runtime exit, response too large) take AWS's exact shapes and key order. A function
whose Runtime this sandbox cannot run (no interpreter here, or not Python) answers 502
``InvalidRuntimeException`` before anything starts (see :mod:`.pythons`).

Differences from AWS: an ``Event`` invocation runs once in the background (no retries
on error, no destinations or DLQ); throttled events wait for a free slot for up to
``EVENT_MAX_WAIT_S`` seconds. No IAM permission is checked.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote

from . import moto_state, routing
from .answers import JSON, InvokeResult, error_result
from .code import CodeCache
from .environment import INIT_LIMIT_S, WORKER, Environment, Outcome
from .errors import ApiError
from .logs import InvocationLog, new_stream_name, tail, timestamp
from .pool import EnvironmentPool, Throttled
from .pythons import Pythons, unavailable_error
from .warm import Templates
from .worker_variables import interpreter_variables, worker_environment

__all__ = ["Invoker"]

logger = logging.getLogger("chaostoolkit")

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 256 * 1024
MAX_RESPONSE_PAYLOAD = 6291556  # the figure in AWS's ResponseSizeTooLarge message
MAX_DISCARD = 64 * 1024 * 1024  # read and dropped after a 413, to answer cleanly
EVENT_MAX_WAIT_S = 300.0


def _client_context(value: Optional[str]) -> Optional[dict]:
    if not value:
        return None
    try:
        data = json.loads(base64.b64decode(value))
    except (ValueError, TypeError) as exc:
        raise ApiError(
            400, "InvalidRequestContentException", "Client context must be valid base64 JSON"
        ) from exc
    return data if isinstance(data, dict) else None


class Invoker:
    """Runs invocations on the environments of :class:`EnvironmentPool`."""

    def __init__(
        self,
        pool: EnvironmentPool,
        code: CodeCache,
        home: Path,
        endpoint_url: Callable[[], str],
        default_region: str,
        pythons: Optional[Pythons] = None,
    ) -> None:
        self.pythons = pythons if pythons is not None else Pythons(source=WORKER)
        self.templates = Templates()
        self.pool = pool
        self.code = code
        self.home = home
        self.endpoint_url = endpoint_url
        self.default_region = default_region
        self._events = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chaosthundra-event")
        self._closed = threading.Event()

    def close(self) -> None:
        """Stop accepting events and wait for the running ones (environments must be
        killed by the pool first so that they end quickly)."""
        self._closed.set()
        self._events.shutdown(wait=True, cancel_futures=True)
        self.templates.close()

    # --- HTTP -----------------------------------------------------------------------

    def handle(self, environ: dict[str, Any], name: str, legacy_async: bool) -> InvokeResult:
        """Answer one Invoke (or InvokeAsync) HTTP request."""
        request_id = str(uuid.uuid4())
        try:
            return self._handle(environ, unquote(name), legacy_async, request_id)
        except ApiError as error:
            if error.status >= 500:
                logger.debug("chaosthundra sandbox: invoke failed: %s", error)
            result = error_result(error, request_id)
            if error.status == 413:
                _discard(environ["wsgi.input"], _content_length(environ) or MAX_DISCARD)
            return result
        except Exception as exc:  # a sandbox bug: answer like AWS would, log the cause
            logger.error("chaosthundra sandbox: invoke of %s failed", name, exc_info=True)
            error = ApiError(500, "ServiceException", f"sandbox error: {type(exc).__name__}")
            return error_result(error, request_id)

    def _handle(
        self, environ: dict[str, Any], name: str, legacy_async: bool, request_id: str
    ) -> InvokeResult:
        account_id, signed_region = moto_state.account_for_request(environ)
        region = signed_region or self.default_region
        query = parse_qs(environ.get("QUERY_STRING", ""))
        qualifier = query.get("Qualifier", [None])[0]

        if legacy_async:
            kind, log_type = "Event", "None"
        else:
            kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse"
            log_type = environ.get("HTTP_X_AMZ_LOG_TYPE") or "None"
        if kind not in ("RequestResponse", "Event", "DryRun"):
            raise ApiError(
                400,
                "InvalidParameterValueException",
                f"Unsupported invocation type: {kind}",
            )
        payload = _read_body(environ, MAX_SYNC_PAYLOAD if kind != "Event" else MAX_ASYNC_PAYLOAD)
        if payload.strip():
            try:
                json.loads(payload)
            except ValueError as exc:
                raise ApiError(
                    400,
                    "InvalidRequestContentException",
                    f"Could not parse request body into json: {exc}",
                ) from None
        client_context = _client_context(environ.get("HTTP_X_AMZ_CLIENT_CONTEXT"))
        target = routing.resolve(account_id, region, name, qualifier)  # after the body
        headers = {"x-amzn-RequestId": request_id, "X-Amz-Executed-Version": target.spec.version}

        if kind == "DryRun":
            return InvokeResult(204, headers)
        if kind == "Event":
            if not self.pythons.runs(target.spec.runtime):  # refused now, not in the background
                raise unavailable_error(target.spec.runtime)
            self._submit_event(target, name, qualifier, payload, request_id)
            if legacy_async:
                return InvokeResult(202, {**headers, "Content-Type": JSON}, b'{"Status": 202}')
            return InvokeResult(202, headers)

        result = self.run(target, payload, client_context, request_id)
        headers["Content-Type"] = JSON
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if log_type == "Tail":
            headers["X-Amz-Log-Result"] = tail(result.log)
        return InvokeResult(200, headers, result.payload)

    # --- running --------------------------------------------------------------------

    def warm(
        self, zipped: bytes, code_sha256: str, runtime_name: str, variables: dict[str, str]
    ) -> None:
        """Start the warm template of a package about to be deployed (``variables``: a
        function's own), without waiting for it: the deployment goes on meanwhile,
        and the first cold start finds it ready, or nearly. Nothing for a Runtime that
        the sandbox cannot run."""
        if not self.pythons.runs(runtime_name):
            return
        try:
            runtime = self.pythons.get(runtime_name)
            task_root = self.code.task_root(code_sha256, lambda: zipped)
            variables = {**variables, **interpreter_variables(self.home, runtime)}
            self.templates.start(runtime, task_root, variables)
        except ApiError as error:  # its first cold start will say why
            logger.debug("chaosthundra sandbox: no warm template: %s", error)

    def run(
        self,
        target: routing.Target,
        payload: bytes,
        client_context: Optional[dict],
        request_id: str,
    ) -> RunResult:
        """Run one request on an environment of ``target``'s version; raises
        :class:`Throttled`."""
        spec, invoked_arn = target.spec, target.invoked_arn
        runtime = self.pythons.get(spec.runtime)  # before anything runs: it may be refused
        task_root = self.code.task_root(spec.code_sha256, lambda: moto_state.code_bytes(target.fn))
        log = InvocationLog(request_id, spec.version)

        def new_environment() -> Environment:
            return Environment(spec, new_stream_name(spec.version), runtime)

        def start(env: Environment) -> Outcome:
            variables = worker_environment(
                spec,
                runtime,
                task_root=task_root,
                log_stream=env.log_stream,
                endpoint_url=self.endpoint_url(),
                home=self.home,
            )
            try:
                template = self.templates.for_function(runtime, task_root, variables)
            except ApiError as error:  # a fresh interpreter still does it
                logger.debug("chaosthundra sandbox: no warm template: %s", error)
                template = None
            logger.debug(
                "chaosthundra sandbox: cold start of %s (%s, %s)",
                spec.name,
                env.id,
                "forked from the warm template" if template else "a fresh interpreter",
            )
            deadline = time.monotonic() + INIT_LIMIT_S + spec.timeout
            return env.start(variables, task_root, deadline, template)

        with self.pool.lease(spec, target.read_order, new_environment, start) as (env, init):
            init_ms = None
            if init is not None:
                init_ms = env.init_ms
                log.init(init.log, runtime.version)
            log.start()
            if init is not None and init.status != "ok":
                outcome = init  # the init error answers this request
            else:
                outcome = env.invoke(request_id, payload, invoked_arn, client_context, spec.timeout)
                log.output(outcome.log)
            result = self._result(spec, outcome, log, request_id, init_ms)
        try:
            log.publish(spec.account_id, spec.region, spec.name, env.log_stream)
        except Exception:  # the invocation already happened; the log is best effort
            logger.debug("chaosthundra sandbox: could not write CloudWatch logs", exc_info=True)
        result.log = log.text
        result.environment_id = env.id
        return result

    @staticmethod
    def _result(
        spec: moto_state.FunctionSpec,
        outcome: Outcome,
        log: InvocationLog,
        request_id: str,
        init_ms: Optional[float],
    ) -> RunResult:
        status = None
        error: Optional[str] = "Unhandled"
        if outcome.status == "ok":
            payload, error = outcome.body or b"null", None
        elif outcome.status == "error":
            payload = outcome.body
        elif outcome.status == "timeout":
            timed_out = f"Task timed out after {spec.timeout:.2f} seconds"
            log.line(f"{timestamp()} {request_id} {timed_out}")
            body = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: {timed_out}",
            }
            payload, status = json.dumps(body).encode(), "timeout"
        else:
            if outcome.exit_reason == "exit status 0":
                reason = "Runtime exited without providing a reason"
            else:
                reason = f"Runtime exited with error: {outcome.exit_reason}"
            message = f"RequestId: {request_id} Error: {reason}"
            log.line(message)
            log.line("Runtime.ExitError")
            body = {"errorType": "Runtime.ExitError", "errorMessage": message}
            payload, status = json.dumps(body).encode(), "error"
        if len(payload) > MAX_RESPONSE_PAYLOAD:
            body = {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_PAYLOAD} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            payload, error = json.dumps(body).encode(), "Unhandled"
        log.end(outcome.duration_ms, spec.memory_size, outcome.max_memory_mb, init_ms, status)
        return RunResult(payload=payload, function_error=error)

    def _submit_event(
        self,
        target: routing.Target,
        name: str,
        qualifier: Optional[str],
        payload: bytes,
        request_id: str,
    ) -> None:
        if self._closed.is_set():
            raise ApiError(503, "ServiceException", "The sandbox is shutting down.")
        spec = target.spec

        def run_event() -> None:
            waited_until = time.monotonic() + EVENT_MAX_WAIT_S
            while not self._closed.is_set():
                try:  # read again: the settings may have changed while it waited
                    current = routing.resolve(spec.account_id, spec.region, name, qualifier)
                    result = self.run(current, payload, None, request_id)
                except Throttled:
                    if time.monotonic() > waited_until:
                        logger.info(
                            "chaosthundra sandbox: event %s dropped (throttled)", request_id
                        )
                        return
                    self._closed.wait(0.05)
                    continue
                except ApiError as error:
                    logger.info("chaosthundra sandbox: event %s failed: %s", request_id, error)
                    return
                if result.function_error:
                    logger.debug("chaosthundra sandbox: event %s: function error", request_id)
                return

        self._events.submit(run_event)


@dataclass
class RunResult:
    """The outcome of one synchronous run, as the Invoke API reports it."""

    payload: bytes
    function_error: Optional[str] = None
    log: str = ""
    environment_id: str = ""


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes read into memory, whether
    it comes with a Content-Length or chunked; over it, 413."""
    length = _content_length(environ)
    stream = environ["wsgi.input"]
    unbounded = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get(
        "wsgi.input_terminated"
    )
    if length > limit:
        raise _too_large(limit)
    if length or not unbounded:
        return stream.read(length) if length else b""
    body = _read_up_to(stream, limit + 1)
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _content_length(environ: dict[str, Any]) -> int:
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _read_up_to(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes (a chunked stream may return less than asked per read)."""
    chunks, total = [], 0
    while total < size:
        chunk = stream.read(min(65536, size - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _discard(stream: Any, size: int) -> None:
    """Read and drop the rest of a refused body (up to ``size`` bytes; a chunked
    body ends at its last chunk), so the client gets the answer, not a reset."""
    try:
        while size > 0 and (chunk := stream.read(min(65536, size))):
            size -= len(chunk)
    except (OSError, ValueError):
        pass


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "RequestEntityTooLargeException",
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
    )
