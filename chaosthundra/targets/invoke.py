"""Invoke a Lambda function once: the one place that calls Invoke.

The call goes through :func:`chaosthundra.aws.invoke_client`, which never retries,
so a function runs at most once per call. A throttle (429) or a service error (5xx)
is an outcome with its status, not an exception: the function may or may not have
run, and a retry could run it twice.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import time
from typing import Any, Mapping, Optional

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra.aws import INVOKE_READ_TIMEOUT, invoke_client
from chaosthundra.targets import latest

__all__ = [
    "attempt",
    "error_type",
    "figures",
    "failed_outcome",
    "invoke",
    "invoke_once",
    "payload_bytes",
    "verdict",
]

# Every outcome falls in exactly one of these (see verdict).
VERDICTS = ("ok", "error", "timeout", "throttled", "service_error")

logger = logging.getLogger("chaostoolkit")

_TIMEOUT_RE = re.compile(r"Task timed out after [0-9.]+ seconds")


def invoke_once(
    function_name: str,
    payload: Any,
    qualifier: Optional[str],
    configuration: Configuration,
    secrets: Secrets,
) -> dict:
    """Encode ``payload``, invoke once with a never-retried client, and return the outcome."""
    body = payload_bytes(function_name, payload)
    return invoke(invoke_client(configuration, secrets), function_name, body, qualifier)


def invoke(lam: Any, function_name: str, body: bytes, qualifier: Optional[str]) -> dict:
    """One Invoke, one HTTP request: a 429 or 5xx answer is an outcome, not an error."""
    kwargs: dict[str, Any] = {
        "FunctionName": function_name,
        "InvocationType": "RequestResponse",
        "LogType": "Tail",
        "Payload": body,
    }
    if qualifier:
        kwargs["Qualifier"] = qualifier
    started = time.perf_counter()
    try:
        response = lam.invoke(**kwargs)
    except ClientError as error:
        meta = error.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        if status == 429 or status >= 500:
            details = error.response.get("Error", {})
            answer = {"errorType": details.get("Code"), "errorMessage": details.get("Message")}
            if error.response.get("Reason"):
                answer["reason"] = error.response["Reason"]
            return _outcome(status, None, answer, started, "", meta.get("RequestId"))
        raise latest.activity_failed("invoke", function_name, error) from error
    except ReadTimeoutError as error:
        raise ActivityFailed(
            f"chaosthundra: no answer from Lambda function '{function_name}' within "
            f"{INVOKE_READ_TIMEOUT} s; the invoke was not retried."
        ) from error
    except BotoCoreError as error:
        raise ActivityFailed(
            f"chaosthundra: could not invoke Lambda function '{function_name}': {error}. The "
            "invoke was not retried; if the request was sent, the function may have run once."
        ) from error
    raw = response["Payload"].read().decode("utf-8", errors="replace")
    tail = base64.b64decode(response.get("LogResult") or "").decode("utf-8", errors="replace")
    request_id = response.get("ResponseMetadata", {}).get("RequestId")
    status, error = response.get("StatusCode", 0), response.get("FunctionError")
    result = _outcome(
        status,
        error,
        _json_or_text(raw),
        started,
        tail,
        request_id,
        response.get("ExecutedVersion"),
    )
    logger.debug(
        "chaosthundra: invoked '%s': status %s, error %s, %.1f ms",
        function_name,
        result["status_code"],
        result["function_error"],
        result["duration_ms"],
    )
    return result


def attempt(lam: Any, function_name: str, body: bytes, qualifier: Optional[str]) -> dict:
    """One invoke as one outcome: an invoke that got no answer at all is a failed
    outcome (counted, never retried), not the end of a measurement."""
    started = time.perf_counter()
    try:
        return invoke(lam, function_name, body, qualifier)
    except ActivityFailed as error:
        return failed_outcome(error, started)


def verdict(outcome: dict) -> str:
    """The one class of an outcome: ok, error (a function error, or no answer),
    timeout, throttled (429) or service_error (5xx)."""
    status = outcome["status_code"]
    if status == 429:
        return "throttled"
    if status is not None and status >= 500:
        return "service_error"
    if outcome["timed_out"]:
        return "timeout"
    if status != 200 or outcome["function_error"]:
        return "error"
    return "ok"


def error_type(outcome: dict) -> Optional[str]:
    """What went wrong, by name: the answer's ``errorType`` (a function error, a
    throttle's or service error's code, InvokeFailed), else the status; None when ok."""
    if verdict(outcome) == "ok":
        return None
    payload = outcome["payload"]
    named = payload.get("errorType") if isinstance(payload, dict) else None
    return str(named or outcome["function_error"] or outcome["status_code"] or "Unknown")


def failed_outcome(error: ActivityFailed, started: float) -> dict:
    """The outcome of an invoke that got no answer at all (counted, never retried)."""
    failed = {"errorType": "InvokeFailed", "errorMessage": str(error)}
    return _outcome(None, None, failed, started, "", None)


def payload_bytes(function_name: str, payload: Any) -> bytes:
    """The request body: ``payload`` as JSON bytes; ActivityFailed when it is not JSON."""
    if payload is None:
        return b"{}"
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode("utf-8")
    if isinstance(payload, str):
        try:
            json.loads(payload)
        except ValueError as error:
            raise ActivityFailed(
                f"chaosthundra: the payload for '{function_name}' is not valid JSON ({error}). "
                'Give a mapping, a list, or a JSON string such as \'{"userId": "1"}\'.'
            ) from error
        return payload.encode("utf-8")
    try:
        return json.dumps(payload).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ActivityFailed(
            f"chaosthundra: the payload for '{function_name}' cannot be sent as JSON: {error}"
        ) from error


def _json_or_text(raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _outcome(
    status_code: Optional[int],
    function_error: Optional[str],
    payload: Any,
    started: float,
    tail: str,
    request_id: Optional[str],
    executed_version: Optional[str] = None,
) -> dict:
    message = payload.get("errorMessage", "") if isinstance(payload, dict) else ""
    return {
        "executed_version": executed_version,
        "status_code": status_code,
        "function_error": function_error,
        "payload": payload,
        "duration_ms": round((time.perf_counter() - started) * 1000.0, 2),
        "timed_out": bool(function_error) and bool(_TIMEOUT_RE.search(str(message))),
        "log_tail": tail,
        "request_id": request_id,
    }


def figures(verdicts: Mapping[str, int], durations_ms: Mapping[float, int], elapsed: float) -> dict:
    """The figures of a measurement, from how many outcomes fell in each verdict and a
    histogram of their round trips (milliseconds -> how many): `count`, `ok`,
    `errors` (timeouts included), `timeouts`, `throttled`, `service_errors`,
    `error_ratio`, nearest-rank `p50_ms`, `p95_ms`, `p99_ms`, `max_ms`, `rps` (also
    as `throughput_per_s`) and `duration_s`."""
    count = sum(verdicts.values())
    ok = verdicts.get("ok", 0)
    rate = round(count / elapsed, 2) if elapsed > 0 else None
    return {
        "count": count,
        "ok": ok,
        "errors": verdicts.get("error", 0) + verdicts.get("timeout", 0),
        "timeouts": verdicts.get("timeout", 0),
        "throttled": verdicts.get("throttled", 0),
        "service_errors": verdicts.get("service_error", 0),
        "error_ratio": round((count - ok) / count, 6) if count else None,
        "p50_ms": _percentile(durations_ms, 50),
        "p95_ms": _percentile(durations_ms, 95),
        "p99_ms": _percentile(durations_ms, 99),
        "max_ms": max(durations_ms) if durations_ms else None,
        "rps": rate,
        "throughput_per_s": rate,
        "duration_s": round(elapsed, 3),
    }


def _percentile(histogram: Mapping[float, int], q: int) -> Optional[float]:
    """Nearest-rank percentile of a histogram (value -> how many)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")
