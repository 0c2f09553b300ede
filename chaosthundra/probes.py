"""Probes: invoke a Lambda function and judge the outcome; list its injections."""

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra import targets
from chaosthundra.agents.output import injected_spans
from chaosthundra.arguments import bounded_int
from chaosthundra.aws import client, invoke_client
from chaosthundra.listeners import parse_injections
from chaosthundra.targets.invoke import attempt, figures, invoke_once, payload_bytes, verdict
from chaosthundra.targets.logs import lines_since
from chaosthundra.targets.names import resolve as resolve_function

__all__ = [
    "invoke_function",
    "invocation_succeeds",
    "invocation_completes_within",
    "list_injections",
    "injected_span_count",
    "measure_invocations",
]

MAX_COUNT = 10_000
MAX_CONCURRENCY = 64

logger = logging.getLogger("chaostoolkit")


def invoke_function(
    function_name: str,
    payload: Any = None,
    qualifier: str = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Invoke the function once, synchronously, and report what happened.

    `payload` is a mapping, a list, or a JSON string. Returns `status_code`,
    `function_error` (null, "Handled" or "Unhandled"), `payload` (decoded JSON,
    or text), `duration_ms` (round trip, as the caller sees it), `timed_out`
    (the runtime reported a timeout), `log_tail` (the last 4 KB of the log),
    `request_id` and `executed_version` (the version that ran: through an alias,
    the one its routing picked). `qualifier` is an alias or a version; none
    invokes $LATEST. The call is never retried, so the function runs at most once.
    A throttle (429) or a service error (5xx) is reported with its status, and
    `payload` holds its `errorType` and `errorMessage`. `function_name` may also
    be an ARN or name:qualifier.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return invoke_once(function_name, payload, qualifier, configuration, secrets)


def invocation_succeeds(
    function_name: str,
    payload: Any = None,
    qualifier: str = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when one invoke returns status 200 with no function error or timeout.

    `qualifier` (an alias or version) invokes that instead of $LATEST.
    """
    outcome = invoke_function(function_name, payload, qualifier, configuration, secrets)
    return outcome["status_code"] == 200 and outcome["function_error"] is None


def invocation_completes_within(
    function_name: str,
    seconds: float,
    payload: Any = None,
    qualifier: str = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when one invoke answers within `seconds` (round trip) without timing out.

    `qualifier` (an alias or version) invokes that instead of $LATEST.
    """
    outcome = invoke_function(function_name, payload, qualifier, configuration, secrets)
    return not outcome["timed_out"] and outcome["duration_ms"] <= float(seconds) * 1000.0


def list_injections(
    function_name: str,
    qualifier: str = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> list:
    """The function's span-listener variables, chaosthundra's and foreign ones.

    Both agent generations' variables are listed. Each entry has `name`,
    `kind` (error, latency, other, unreadable, legacy), `env_key`, `ours`,
    `encoding`, the decoded listener `config`, the `agent` that reads it, and a
    `note`: a legacy entry is in the origin's bracket syntax, which no current
    agent reads. With `qualifier` (an alias), those its faulted traffic runs with.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    lam = client("lambda", configuration, secrets)
    variables = targets.variables(lam, function_name, qualifier)
    return [injection.to_dict() for injection in parse_injections(variables)]


def injected_span_count(
    function_name: str,
    since_seconds: int = 300,
    kind: str = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> int:
    """Count the spans a listener acted on in the function's CloudWatch Logs.

    Looks at the last `since_seconds` seconds of /aws/lambda/<function_name>
    (Thundra 2.x reports there with THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE=true;
    Catchpoint never logs its spans, so its count is 0). `kind` ("error" or
    "latency") counts only that kind of injection. Use it after the method to
    assert that the fault really fired (a range tolerance such as [1, 1000000]).
    On AWS, log delivery can lag by a few seconds. A qualifier in `function_name`
    changes nothing: every version logs to that one group.
    """
    function_name, _ = resolve_function(function_name, None, configuration, secrets)
    if kind not in (None, "error", "latency"):
        raise ActivityFailed(
            f"chaosthundra: kind must be 'error', 'latency' or null, got {kind!r}."
        )
    since_ms = int((time.time() - float(since_seconds)) * 1000)
    spans = injected_spans("\n".join(lines_since(function_name, since_ms, configuration, secrets)))
    if kind:
        spans = [s for s in spans if s.get("type") == f"{kind}_injector_span_listener"]
    return len(spans)


def measure_invocations(
    function_name: str,
    payload: Any = None,
    count: int = 100,
    concurrency: int = 10,
    qualifier: str = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Invoke the function `count` times, `concurrency` at a time, and summarise.

    Each invoke runs the function at most once (never retried) and is counted
    in exactly one of `ok`, `errors` (function errors, timeouts included, and
    invokes that got no answer), `throttled` (429) and `service_errors` (5xx);
    `timeouts` counts the timeouts among the errors. Also returns `count`,
    `error_ratio` (everything not ok, over count), `p50_ms`, `p95_ms`,
    `p99_ms`, `max_ms` (round trip), `rps` (also as `throughput_per_s`) and
    `duration_s`, plus
    `durations_ms` and `outcomes` per invoke for charts. Judge it with
    tolerances, for example jsonpath "$.error_ratio" or a range on a target.
    `qualifier` (an alias or version) invokes that instead of $LATEST; the
    versions that answered are counted in `executed_versions`.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    count = bounded_int("count", count, MAX_COUNT)
    concurrency = bounded_int("concurrency", concurrency, MAX_CONCURRENCY)
    body = payload_bytes(function_name, payload)  # refuse a bad payload before any invoke
    lam = invoke_client(configuration, secrets, concurrency)

    def one(_: int) -> dict:
        return attempt(lam, function_name, body, qualifier)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(concurrency, count)) as pool:
        results = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    outcomes = [verdict(r) for r in results]
    durations = [r["duration_ms"] for r in results]
    summary = {
        **figures(Counter(outcomes), Counter(durations), elapsed),
        "concurrency": concurrency,
        "executed_versions": _counts(r["executed_version"] for r in results),
        "durations_ms": durations,
        "outcomes": outcomes,
    }
    log_figures(function_name, summary)
    return summary


def log_figures(function_name: str, summary: dict) -> None:
    """One info line of a measurement's figures."""
    logger.info(
        "chaosthundra: %d invokes of '%s': error ratio %.3f (%d throttled, %d service errors), "
        "p95 %.0f ms, %.1f/s",
        summary["count"],
        function_name,
        summary["error_ratio"] or 0,
        summary["throttled"],
        summary["service_errors"],
        summary["p95_ms"] or 0,
        summary["rps"] or 0,
    )


# ------------------------------------------------------------------ internals
def _counts(values: Any) -> dict:
    counted: dict = {}
    for value in values:
        if value is not None:
            counted[value] = counted.get(value, 0) + 1
    return counted
