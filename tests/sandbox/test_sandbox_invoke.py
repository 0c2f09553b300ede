"""The Invoke API against the running sandbox: real moto, real worker processes."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sbx_helpers import invoke, make_client, wait_for_paths

from chaosthundra.sandbox import Sandbox


def test_cold_then_warm_in_the_same_environment(lambda_client: Any) -> None:
    first = invoke(lambda_client, "sbx-echo", {"n": 1})
    second = invoke(lambda_client, "sbx-echo", {"n": 2})
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    assert first["ExecutedVersion"] == "$LATEST"
    assert second["payload"]["env_id"] == first["payload"]["env_id"]
    assert second["payload"]["cold"] is False
    assert second["payload"]["event"] == {"n": 2}


def test_context_and_runtime_variables(lambda_client: Any, sandbox: Sandbox) -> None:
    out = invoke(lambda_client, "sbx-echo", {"environ": True})["payload"]
    context = out["context"]
    assert context["function_name"] == "sbx-echo"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:sbx-echo"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert uuid.UUID(context["aws_request_id"])
    assert context["log_group_name"] == "/aws/lambda/sbx-echo"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining_ms"] <= 10_000
    env = out["environ"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "sbx-echo"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/sbx-echo"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == context["log_stream_name"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["_HANDLER"] == "echo.handler"
    assert env["LAMBDA_TASK_ROOT"] == out["cwd"] == out["sys_path"][0]
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert env["THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE"] == "true"
    assert env["THUNDRA_APIKEY"]
    # From the template: Globals merged with the function's own variables, and Refs.
    assert env["GREETING"] == "hello"
    assert env["TABLE"] == "sbx-items"
    assert env["REGION"] == "us-east-1"


def test_function_reaches_dynamodb_through_the_sandbox(lambda_client: Any) -> None:
    out = invoke(lambda_client, "sbx-echo", {"table": "sbx-items", "key": "a"})["payload"]
    assert out["item"]["name"] == {"S": "Alpha"}
    assert out["item"]["score"] == {"N": "1.5"}


def test_function_cannot_import_the_sandbox_modules(lambda_client: Any) -> None:
    # The worker script's directory must not be on the function's sys.path.
    out = invoke(lambda_client, "sbx-echo", {"import_check": "pool"})["payload"]
    assert out["imported"] is False


def test_handler_exception_is_an_unhandled_function_error(lambda_client: Any) -> None:
    response = invoke(lambda_client, "sbx-echo", {"raise": "boom"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = response["payload"]
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert "echo.py" in error["stackTrace"][-1]
    assert "raise ValueError" in error["stackTrace"][-1]
    # The environment survives a handled error.
    assert "FunctionError" not in invoke(lambda_client, "sbx-echo", {})


def test_crashed_runtime_is_reported_and_replaced(lambda_client: Any) -> None:
    before = invoke(lambda_client, "sbx-echo", {})["payload"]["env_id"]
    response = invoke(lambda_client, "sbx-echo", {"exit": 1}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    error = response["payload"]
    assert error["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 1",
        error["errorMessage"],
    )
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Runtime exited with error: exit status 1" in log
    after = invoke(lambda_client, "sbx-echo", {})["payload"]
    assert after["env_id"] != before and after["cold"] is True


def test_timeout_kills_the_environment_and_the_next_invoke_works(lambda_client: Any) -> None:
    before = invoke(lambda_client, "sbx-slow", {})["payload"]
    response = invoke(lambda_client, "sbx-slow", {"sleep": 30, "print": "zzz"}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["payload"] == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    log = base64.b64decode(response["LogResult"]).decode()
    assert "zzz" in log  # output written before the kill is kept
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    timed_out = rf"^{stamp} {request_id} Task timed out after 1\.00 seconds$"
    assert re.search(timed_out, log, re.MULTILINE)
    assert re.search(r"REPORT RequestId: \S+\tDuration: [\d.]+ ms.*Status: timeout", log)
    after = invoke(lambda_client, "sbx-slow", {})
    assert "FunctionError" not in after
    assert after["payload"]["env_id"] != before["env_id"]
    assert after["payload"]["cold"] is True


def test_config_change_reaches_the_very_next_invoke(lambda_client: Any) -> None:
    name = "sbx-changing"
    first = invoke(lambda_client, name, {})["payload"]
    assert first["greeting"] == "hello"
    config = lambda_client.get_function_configuration(FunctionName=name)
    variables = dict(config["Environment"]["Variables"], GREETING="changed")
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": variables}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    second = invoke(lambda_client, name, {})["payload"]
    assert second["greeting"] == "changed"
    assert second["env_id"] != first["env_id"] and second["cold"] is True
    third = invoke(lambda_client, name, {})["payload"]
    assert third["env_id"] == second["env_id"]


def test_config_change_retires_a_busy_environment(lambda_client: Any, tmp_path: Path) -> None:
    name = "sbx-changing"
    hold = tmp_path / "busy"
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(invoke, lambda_client, name, {"hold": str(hold)})
        wait_for_paths([hold.with_suffix(".in")])
        config = lambda_client.get_function_configuration(FunctionName=name)
        variables = dict(config["Environment"]["Variables"], GREETING="busy-change")
        lambda_client.update_function_configuration(
            FunctionName=name, Environment={"Variables": variables}
        )
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
        new = invoke(lambda_client, name, {})["payload"]
        hold.with_suffix(".go").touch()
        old = busy.result()["payload"]
    assert new["greeting"] == "busy-change"
    # The old environment finished its request, then was not reused.
    assert invoke(lambda_client, name, {})["payload"]["env_id"] == new["env_id"] != old["env_id"]


def test_concurrent_invokes_get_distinct_environments(lambda_client: Any, tmp_path: Path) -> None:
    count = 20
    holds = [tmp_path / f"crowd-{i}" for i in range(count)]
    with ThreadPoolExecutor(count) as pool:
        futures = [
            pool.submit(invoke, lambda_client, "sbx-crowd", {"i": i, "hold": str(hold)})
            for i, hold in enumerate(holds)
        ]
        wait_for_paths([hold.with_suffix(".in") for hold in holds])  # all running at once
        for hold in holds:
            hold.with_suffix(".go").touch()
        results = [f.result() for f in futures]
    assert all("FunctionError" not in r for r in results)
    assert sorted(r["payload"]["event"]["i"] for r in results) == list(range(count))
    assert len({r["payload"]["env_id"] for r in results}) == count
    assert len({r["payload"]["pid"] for r in results}) == count


def test_event_invocation_runs_in_the_background(lambda_client: Any, sandbox: Sandbox) -> None:
    marker = f"event-{uuid.uuid4().hex}"
    response = lambda_client.invoke(
        FunctionName="sbx-echo",
        InvocationType="Event",
        Payload=json.dumps({"print": marker}),
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    logs = make_client(sandbox, "logs")
    assert _wait_for_log(logs, "/aws/lambda/sbx-echo", marker)


def test_legacy_invoke_async(lambda_client: Any, sandbox: Sandbox) -> None:
    marker = f"async-{uuid.uuid4().hex}"
    response = lambda_client.invoke_async(
        FunctionName="sbx-echo", InvokeArgs=json.dumps({"print": marker})
    )
    assert response["Status"] == 202
    assert _wait_for_log(make_client(sandbox, "logs"), "/aws/lambda/sbx-echo", marker)


def test_dry_run(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="sbx-echo", InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_tail_log_and_cloudwatch_logs(lambda_client: Any, sandbox: Sandbox) -> None:
    marker = f"tail-{uuid.uuid4().hex}"
    name = "sbx-echo"
    event = {"print": marker, "log": f"warn {marker}"}
    response = invoke(lambda_client, name, event, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert f"START RequestId: {request_id} Version: $LATEST" in lines
    assert marker in lines
    assert f"stderr {marker}" in lines
    assert any(line.startswith("[WARNING]\t") and f"\t{request_id}\twarn {marker}" in line
               for line in lines)  # fmt: skip
    assert f"END RequestId: {request_id}" in lines
    report = lines[-1]
    assert re.match(
        rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB",
        report,
    )
    stream = response["payload"]["context"]["log_stream_name"]
    events = make_client(sandbox, "logs").get_log_events(
        logGroupName=f"/aws/lambda/{name}", logStreamName=stream, startFromHead=True
    )["events"]
    messages = [e["message"] for e in events]
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert messages[start : start + len(lines)] == lines


def test_tail_is_at_most_4_kb_and_cold_start_has_init_duration(lambda_client: Any) -> None:
    response = invoke(lambda_client, "sbx-crowd", {"print": "x" * 10_000}, LogType="Tail")
    log = base64.b64decode(response["LogResult"])
    assert len(log) <= 4096
    assert log.decode().splitlines()[-1].startswith("REPORT RequestId:")
    # A fresh function revision: its first invoke is a cold start.
    fresh = invoke(lambda_client, "sbx-slow", {}, LogType="Tail")
    report = base64.b64decode(fresh["LogResult"]).decode().splitlines()[-1]
    if fresh["payload"]["cold"]:
        assert re.search(r"Init Duration: [\d.]+ ms", report)
    else:
        assert "Init Duration" not in report


def test_reserved_concurrency_throttles_with_429(lambda_client: Any, tmp_path: Path) -> None:
    name = "sbx-reserved"
    hold = tmp_path / "reserved"
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(invoke, lambda_client, name, {"hold": str(hold)})
        wait_for_paths([hold.with_suffix(".in")])
        with pytest.raises(ClientError) as caught:
            invoke(lambda_client, name, {})
        hold.with_suffix(".go").touch()
        assert busy.result()["StatusCode"] == 200
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert invoke(lambda_client, name, {})["StatusCode"] == 200


def test_reserved_concurrency_set_through_the_api(lambda_client: Any) -> None:
    name = "sbx-crowd"
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    try:
        with pytest.raises(ClientError) as caught:
            invoke(lambda_client, name, {})
        assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    finally:
        lambda_client.delete_function_concurrency(FunctionName=name)
    assert invoke(lambda_client, name, {})["StatusCode"] == 200


def test_unknown_function_is_404(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as caught:
        invoke(lambda_client, "sbx-nope", {})
    assert "sbx-nope" in caught.value.response["Error"]["Message"]


def test_invalid_json_payload_is_rejected(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="sbx-echo", Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_invoke_by_arn_and_published_version(lambda_client: Any) -> None:
    arn = lambda_client.get_function_configuration(FunctionName="sbx-echo")["FunctionArn"]
    by_arn = invoke(lambda_client, arn, {})
    assert by_arn["payload"]["context"]["function_name"] == "sbx-echo"
    version = lambda_client.publish_version(FunctionName="sbx-echo")["Version"]
    response = invoke(lambda_client, "sbx-echo", {}, Qualifier=version)
    assert response["ExecutedVersion"] == version
    assert response["payload"]["context"]["function_version"] == version
    assert response["payload"]["context"]["invoked_function_arn"] == f"{arn}:{version}"


def _wait_for_log(logs: Any, group: str, needle: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = logs.filter_log_events(logGroupName=group, filterPattern=needle)["events"]
        if any(needle in e["message"] for e in found):
            return True
        time.sleep(0.1)
    return False


def test_exception_at_import_is_reported_on_every_invoke(lambda_client: Any) -> None:
    for _ in range(2):  # the failed environment is not kept: init runs again
        response = invoke(lambda_client, "sbx-broken-init", {}, LogType="Tail")
        assert response["FunctionError"] == "Unhandled"
        assert response["payload"]["errorType"] == "RuntimeError"
        assert response["payload"]["errorMessage"] == "broken at import"
        log = base64.b64decode(response["LogResult"]).decode()
        assert "[ERROR] RuntimeError: broken at import" in log
        assert "Init Duration" in log


def test_missing_handler_is_runtime_handler_not_found(lambda_client: Any) -> None:
    response = invoke(lambda_client, "sbx-no-handler", {})
    assert response["FunctionError"] == "Unhandled"
    assert response["payload"]["errorType"] == "Runtime.HandlerNotFound"
    assert response["payload"]["errorMessage"] == "Handler 'missing' missing on module 'echo'"


def test_code_change_reaches_the_very_next_invoke(sandbox: Sandbox, deployed: Any) -> None:
    import io
    import zipfile

    def package(answer: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app.py", f"def handler(event, context):\n    return {answer!r}\n")
        return buffer.getvalue()

    client = make_client(sandbox, "lambda")
    role = make_client(sandbox, "iam").get_role(RoleName="chaosthundra-sandbox-lambda")
    client.create_function(
        FunctionName="sbx-code",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": package("one")},
    )
    client.get_waiter("function_active_v2").wait(FunctionName="sbx-code")
    assert invoke(client, "sbx-code")["payload"] == "one"
    assert invoke(client, "sbx-code")["payload"] == "one"
    client.update_function_code(FunctionName="sbx-code", ZipFile=package("two"))
    client.get_waiter("function_updated_v2").wait(FunctionName="sbx-code")
    assert invoke(client, "sbx-code")["payload"] == "two"


def test_sts_and_iam_come_from_moto(sandbox: Sandbox) -> None:
    identity = make_client(sandbox, "sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    roles = make_client(sandbox, "iam").list_roles()["Roles"]
    assert "chaosthundra-sandbox-lambda" in [role["RoleName"] for role in roles]
