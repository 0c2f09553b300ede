"""A real Thundra-wrapped handler (decorator path) using the sandbox's Redis, with an
error injected through a span listener variable set by UpdateFunctionConfiguration."""

from __future__ import annotations

import json
from typing import Any

import redis
from sbx_helpers import invoke, make_client

from chaosthundra.sandbox import Sandbox

NAME = "sbx-cache"
LISTENER_KEY = "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_TEST"
LISTENER = {
    "type": "FilteringSpanListener",
    "config": {
        "listener": {
            "type": "ErrorInjectorSpanListener",
            "config": {"errorType": "redis.ConnectionError", "errorMessage": "injected"},
        },
        "filters": [{"className": "Redis"}],
    },
}


def _set_variables(client: Any, variables: dict[str, str]) -> None:
    client.update_function_configuration(FunctionName=NAME, Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(FunctionName=NAME)


def _log_text(sandbox: Sandbox, stream: str) -> str:
    events = make_client(sandbox, "logs").get_log_events(
        logGroupName=f"/aws/lambda/{NAME}", logStreamName=stream, startFromHead=True
    )["events"]
    return "\n".join(e["message"] for e in events)


def test_error_listener_applies_on_next_invoke_and_goes_away(
    lambda_client: Any, sandbox: Sandbox
) -> None:
    ok = invoke(lambda_client, NAME, {"value": "before"})
    assert "FunctionError" not in ok, ok["payload"]
    assert ok["payload"] == {"value": "before"}
    # The function really used the sandbox's Redis.
    assert redis.Redis.from_url(sandbox.redis_url).get("sandbox-test") == b"before"

    original = lambda_client.get_function_configuration(FunctionName=NAME)["Environment"]
    variables = dict(original["Variables"])
    _set_variables(lambda_client, {**variables, LISTENER_KEY: json.dumps(LISTENER)})
    failed = invoke(lambda_client, NAME, {"value": "during"}, LogType="Tail")
    assert failed["FunctionError"] == "Unhandled"
    assert failed["payload"]["errorType"] == "ConnectionError"
    assert failed["payload"]["errorMessage"] == "injected"
    # The injection is visible from the outside, in the agent's report in the log.
    request_id = failed["ResponseMetadata"]["RequestId"]
    streams = make_client(sandbox, "logs").describe_log_streams(logGroupName=f"/aws/lambda/{NAME}")[
        "logStreams"
    ]
    text = "\n".join(_log_text(sandbox, s["logStreamName"]) for s in streams)
    report = [line for line in text.splitlines() if line.startswith("{") and request_id in line]
    assert report and "thundra.span_listener.info" in report[0]

    _set_variables(lambda_client, variables)
    again = invoke(lambda_client, NAME, {"value": "after"})
    assert "FunctionError" not in again, again["payload"]
    assert again["payload"] == {"value": "after"}


def test_agent_reports_to_the_log(lambda_client: Any, sandbox: Sandbox) -> None:
    response = invoke(lambda_client, NAME, {"value": "report"}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    groups = make_client(sandbox, "logs").describe_log_streams(logGroupName=f"/aws/lambda/{NAME}")[
        "logStreams"
    ]
    text = "\n".join(_log_text(sandbox, g["logStreamName"]) for g in groups)
    reports = [
        json.loads(line)
        for line in text.splitlines()
        if line.startswith("{") and request_id in line
    ]
    assert reports, "the agent's JSON report is not in the function's log"
    spans = [d for d in reports[0]["data"]["allMonitoringData"] if d["type"] == "Span"]
    assert any(span["className"] == "Redis" for span in spans)
