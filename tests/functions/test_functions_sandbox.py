"""The two scenarios end to end, in the embedded sandbox (functions/template.yaml is
deployed by the session's ``sandbox`` fixture): the faults are switched on the way
chaosthundra does it, through the function configuration, and every call goes through
the Lambda Invoke API, with the sandbox enforcing the functions' timeouts."""

import json
from contextlib import contextmanager

import boto3
import pytest
from fn_support import (
    LISTENER_INFO_TAG,
    LISTENER_KEY,
    REDIS_GET_ERROR,
    UPSTREAM_LATENCY,
    UPSTREAM_LATENCY_MS,
    injected_spans,
)


@pytest.fixture(scope="module")
def session(sandbox):
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=sandbox.region
    )


@pytest.fixture(scope="module")
def lam(session, sandbox):
    return session.client("lambda", endpoint_url=sandbox.endpoint_url)


@pytest.fixture(scope="module")
def logs(session, sandbox):
    return session.client("logs", endpoint_url=sandbox.endpoint_url)


def invoke(lam, name, event):
    """(FunctionError or None, decoded payload, request id)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    payload = json.loads(response["Payload"].read())
    return response.get("FunctionError"), payload, response["ResponseMetadata"]["RequestId"]


def invocation_log(logs, name, request_id):
    """The whole log of one invocation, from CloudWatch Logs (LogType=Tail gives only
    the last 4 KB, less than one report line of the agent)."""
    group = f"/aws/lambda/{name}"
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        lines = [event["message"] for event in events]
        start, end = f"START RequestId: {request_id}", f"END RequestId: {request_id}"
        first = next((i for i, line in enumerate(lines) if line.startswith(start)), None)
        if first is not None:
            last = next((i for i, line in enumerate(lines) if line.startswith(end)), len(lines))
            return "\n".join(lines[first:last])
    raise AssertionError(f"no log of request {request_id} in {group}")


def _set_variables(lam, name, variables):
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


@contextmanager
def listener(lam, names, config):
    """Add the span listener variable to the functions, and restore them afterwards."""
    before = {
        name: lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        for name in names
    }
    try:
        for name in names:
            _set_variables(lam, name, {**before[name], LISTENER_KEY: json.dumps(config)})
        yield
    finally:
        for name in names:
            _set_variables(lam, name, before[name])


def test_redis_failure_scenario(lam, logs):
    for name in ("user-get-naive", "user-get"):
        error, answer, _ = invoke(lam, name, {"userId": "1"})
        assert error is None and answer["source"] == "cache", (name, answer)

    with listener(lam, ["user-get-naive", "user-get"], REDIS_GET_ERROR):
        error, answer, _ = invoke(lam, "user-get-naive", {"userId": "1"})
        assert error == "Unhandled"
        assert (answer["errorType"], answer["errorMessage"]) == ("ConnectionError", "injected")

        error, answer, request_id = invoke(lam, "user-get", {"userId": "1"})
        log = invocation_log(logs, "user-get", request_id)
        assert error is None
        assert answer["userFound"] is True and answer["source"] == "dynamodb"
        assert answer["cacheError"] == "ConnectionError: injected"
        assert [s["className"] for s in injected_spans(log)] == ["Redis"]

    error, answer, _ = invoke(lam, "user-get-naive", {"userId": "1"})
    assert error is None and answer["source"] == "cache"


def test_upstream_latency_scenario(lam, logs):
    upstream = {"answer": 42, "from": "upstream-lambda"}
    assert invoke(lam, "caller-naive", {})[:2] == (None, {"upstream": upstream})
    assert invoke(lam, "caller", {})[:2] == (None, {"upstream": upstream, "degraded": False})

    with listener(lam, ["caller-naive", "caller"], UPSTREAM_LATENCY):
        error, answer, _ = invoke(lam, "caller-naive", {})
        assert error == "Unhandled"
        assert "Task timed out after 2.00 seconds" in answer["errorMessage"]

        error, answer, request_id = invoke(lam, "caller", {})
        log = invocation_log(logs, "caller", request_id)
        assert (error, answer) == (None, {"upstream": upstream, "degraded": False})
        [span] = injected_spans(log)
        assert span["tags"]["aws.lambda.name"] == "upstream-lambda"
        assert span["tags"][LISTENER_INFO_TAG]["injected_delay"] == UPSTREAM_LATENCY_MS

    assert invoke(lam, "caller-naive", {})[:2] == (None, {"upstream": upstream})
