"""The runtime answers of Invoke, in the exact shapes recorded against AWS
(DESIGN.md, "The Lambda behaviour the sandbox must reproduce"), through boto3 and
the real ``aws`` CLI. Key order matters where AWS fixes it: compared as lists."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sbx_helpers import aws_cli, invoke, make_client

from chaosthundra.sandbox import Deployment, Sandbox

ACCOUNT = "123456789012"
ERROR_KEYS = ["errorMessage", "errorType", "requestId", "stackTrace"]
SERVICE_KEYS = ["errorType", "errorMessage"]

APP = """
import json, os, sys, time

LABEL = os.environ.get("LABEL")
CODE = "{code}"


def _deeper(message):
    raise ValueError(message)


def handler(event, context):
    do = event.get("do")
    if event.get("print"):
        print(event["print"])
    if do == "raise":
        _deeper(event.get("message", "conformance failure"))
    if do == "none":
        return None
    if do == "set":
        return {{1, 2}}
    if do == "big":
        return "x" * event["size"]
    if do == "exit":
        sys.stdout.flush()
        os._exit(event["status"])
    if do == "sleep":
        time.sleep(event["seconds"])
    return {{
        "label": LABEL,
        "code": CODE,
        "version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
    }}
"""

BROKEN = 'raise RuntimeError("broken at import")\n'


def _package(code: str = "one") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", APP.format(code=code))
        archive.writestr("broken.py", BROKEN)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(sandbox: Sandbox, deployed: Deployment) -> Any:
    return make_client(sandbox, "lambda", read_timeout=60)


@pytest.fixture(scope="module")
def functions(sandbox: Sandbox, client: Any) -> Iterator[dict[str, str]]:
    """Functions for these tests: name by purpose."""
    role = make_client(sandbox, "iam").get_role(RoleName="chaosthundra-sandbox-lambda")
    names = {
        "app": ("conf-app", "app.handler"),
        "init": ("conf-init-error", "broken.handler"),
        "module": ("conf-no-module", "missing_module.handler"),
        "handler": ("conf-no-handler", "app.nothere"),
        "zero": ("conf-reserved-zero", "app.handler"),
        "alias": ("conf-alias", "app.handler"),
    }
    for name, handler in names.values():
        client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler=handler,
            Timeout=1,
            Code={"ZipFile": _package()},
            Environment={"Variables": {"LABEL": "v1"}},
        )
        client.get_waiter("function_active_v2").wait(FunctionName=name)
    client.put_function_concurrency(FunctionName=names["zero"][0], ReservedConcurrentExecutions=0)
    yield {purpose: name for purpose, (name, _) in names.items()}
    for name, _ in names.values():
        client.delete_function(FunctionName=name)


def _raw(client: Any, name: str, event: Any, **kwargs: Any) -> tuple[dict, bytes]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    return response, response["Payload"].read()


def _request_id(response: dict) -> str:
    return response["ResponseMetadata"]["RequestId"]


# --- errors from the function -------------------------------------------------------


def test_handler_exception(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["app"], {"do": "raise", "message": "nope"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    error = json.loads(raw)
    assert list(error) == ERROR_KEYS
    assert error["errorMessage"] == "nope"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == _request_id(response)
    # Only the function's own frames: the handler, then the helper that raised.
    assert len(error["stackTrace"]) == 2
    assert all('/app.py", line ' in frame for frame in error["stackTrace"])
    assert "in handler" in error["stackTrace"][0]
    assert "in _deeper" in error["stackTrace"][1]


def test_error_during_init(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["init"], {})
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(raw)
    assert list(error) == ERROR_KEYS
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "broken at import")
    assert error["requestId"] == ""
    assert len(error["stackTrace"]) == 1
    assert '/broken.py", line 1, in <module>' in error["stackTrace"][0]


def test_import_module_error(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["module"], {})
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(raw) == {
        "errorMessage": "Unable to import module 'missing_module': "
        "No module named 'missing_module'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert list(json.loads(raw)) == ERROR_KEYS


def test_handler_not_found(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["handler"], {})
    assert response["FunctionError"] == "Unhandled"
    assert list(json.loads(raw)) == ERROR_KEYS
    assert json.loads(raw) == {
        "errorMessage": "Handler 'nothere' missing on module 'app'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }


def test_marshal_error(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["app"], {"do": "set"})
    assert response["FunctionError"] == "Unhandled"
    assert list(json.loads(raw)) == ERROR_KEYS
    assert json.loads(raw) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": _request_id(response),
        "stackTrace": [],
    }


# --- errors the service writes ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (0, "Runtime exited without providing a reason"),
        (2, "Runtime exited with error: exit status 2"),
    ],
)
def test_runtime_exit_error(
    client: Any, functions: dict[str, str], status: int, reason: str
) -> None:
    response, raw = _raw(client, functions["app"], {"do": "exit", "status": status})
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    assert list(json.loads(raw)) == SERVICE_KEYS
    assert json.loads(raw) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {_request_id(response)} Error: {reason}",
    }


def test_timeout(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["app"], {"do": "sleep", "seconds": 30})
    assert response["FunctionError"] == "Unhandled"
    assert list(json.loads(raw)) == SERVICE_KEYS
    assert json.loads(raw) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {_request_id(response)} Error: "
        "Task timed out after 1.00 seconds",
    }


def test_response_over_6_mb(client: Any, functions: dict[str, str]) -> None:
    response, raw = _raw(client, functions["app"], {"do": "big", "size": 6291556})
    assert response["FunctionError"] == "Unhandled"
    assert list(json.loads(raw)) == ["errorMessage", "errorType"]
    assert json.loads(raw) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def _refused(client: Any, name: str, payload: Any) -> tuple[int, str, str, dict]:
    """Invoke, expecting an API error: HTTP status, code, message, whole response."""
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName=name, Payload=payload)
    error = caught.value.response
    status = error["ResponseMetadata"]["HTTPStatusCode"]
    return status, error["Error"]["Code"], error["Error"]["Message"], error


def test_request_over_6_mb(client: Any, functions: dict[str, str]) -> None:
    status, code, message, _ = _refused(client, functions["app"], json.dumps("x" * 6 * 1024 * 1024))
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_body_not_json(client: Any, functions: dict[str, str]) -> None:
    status, code, _, _ = _refused(client, functions["app"], b"{not json")
    assert (status, code) == (400, "InvalidRequestContentException")


def test_missing_function(sandbox: Sandbox, client: Any) -> None:
    status, code, message, _ = _refused(client, "conf-nope", b"{}")
    assert (status, code) == (404, "ResourceNotFoundException")
    arn = f"arn:aws:lambda:{sandbox.region}:{ACCOUNT}:function:conf-nope"
    assert message == f"Function not found: {arn}:$LATEST"


def test_reserved_concurrency_zero(client: Any, functions: dict[str, str]) -> None:
    status, code, message, error = _refused(client, functions["zero"], b"{}")
    assert (status, code, message) == (429, "TooManyRequestsException", "Rate Exceeded.")
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


# --- successful answers -------------------------------------------------------------


def test_dry_run_and_event_have_empty_bodies(client: Any, functions: dict[str, str]) -> None:
    dry, raw = _raw(client, functions["app"], {}, InvocationType="DryRun")
    assert (dry["StatusCode"], raw) == (204, b"")
    event, raw = _raw(client, functions["app"], {}, InvocationType="Event")
    assert (event["StatusCode"], raw) == (202, b"")


def test_none_is_null_and_every_answer_names_its_version(
    client: Any, functions: dict[str, str]
) -> None:
    response, raw = _raw(client, functions["app"], {"do": "none"})
    assert (response["StatusCode"], raw) == (200, b"null")
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"


def test_tail_log_cold_then_warm(client: Any, functions: dict[str, str]) -> None:
    name = functions["app"]
    version = client.publish_version(FunctionName=name)["Version"]  # a cold start for sure
    for cold in (True, False):
        response, _ = _raw(client, name, {"print": "hello tail"}, LogType="Tail", Qualifier=version)
        request_id = _request_id(response)
        lines = base64.b64decode(response["LogResult"]).decode().splitlines()
        start = lines.index(f"START RequestId: {request_id} Version: {version}")
        assert lines[start + 1 :] == [
            "hello tail",
            f"END RequestId: {request_id}",
            lines[-1],
        ]
        init = r"Init Duration: \d+\.\d\d ms\t" if cold else ""
        assert re.fullmatch(
            rf"REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
            rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t{init}",
            lines[-1],
        ), lines[-1]


def test_aws_cli_shows_the_handler_exception(
    sandbox: Sandbox, functions: dict[str, str], tmp_path: Path
) -> None:
    outfile = tmp_path / "out.json"
    meta = aws_cli(
        sandbox, tmp_path, "lambda", "invoke", "--function-name", functions["app"],
        "--payload", json.dumps({"do": "raise"}), str(outfile),
        endpoint_flag=True,
    )  # fmt: skip
    assert meta == {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST"}
    error = json.loads(outfile.read_text())
    assert list(error) == ERROR_KEYS
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "conformance failure")


# --- qualifiers and aliases ---------------------------------------------------------


@pytest.fixture(scope="module")
def versions(client: Any, functions: dict[str, str]) -> dict[str, str]:
    """Version 1 (LABEL v1, code one) and version 2 (LABEL v2, code two) of the alias
    function; $LATEST stays at version 2's settings."""
    name = functions["alias"]
    one = client.publish_version(FunctionName=name)["Version"]
    client.update_function_code(FunctionName=name, ZipFile=_package("two"))
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"LABEL": "v2"}}
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    two = client.publish_version(FunctionName=name)["Version"]
    return {"one": one, "two": two}


def test_invoke_by_version_runs_that_version(
    client: Any, functions: dict[str, str], versions: dict[str, str]
) -> None:
    name = functions["alias"]
    for qualifier, label, code in [
        (versions["one"], "v1", "one"),
        (versions["two"], "v2", "two"),
        ("$LATEST", "v2", "two"),
    ]:
        response = invoke(client, name, {}, Qualifier=qualifier)
        assert response["ExecutedVersion"] == qualifier
        assert (response["payload"]["label"], response["payload"]["code"]) == (label, code)
        assert response["payload"]["version"] == qualifier


def test_alias_to_one_version(
    sandbox: Sandbox, client: Any, functions: dict[str, str], versions: dict[str, str]
) -> None:
    name = functions["alias"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=versions["one"])
    for _ in range(3):
        response = invoke(client, name, {}, Qualifier="live")
        assert response["ExecutedVersion"] == versions["one"]
        out = response["payload"]
        assert (out["label"], out["code"], out["version"]) == ("v1", "one", versions["one"])
        assert out["invoked_function_arn"] == (
            f"arn:aws:lambda:{sandbox.region}:{ACCOUNT}:function:{name}:live"
        )
    by_name = invoke(client, f"{name}:live", {})
    assert by_name["ExecutedVersion"] == versions["one"]


def test_weighted_alias_splits_traffic(
    client: Any, functions: dict[str, str], versions: dict[str, str]
) -> None:
    name = functions["alias"]
    client.create_alias(
        FunctionName=name,
        Name="split",
        FunctionVersion=versions["one"],
        RoutingConfig={"AdditionalVersionWeights": {versions["two"]: 0.5}},
    )
    count = 80
    seen: Counter[tuple[str, str]] = Counter()
    for _ in range(count):
        response = invoke(client, name, {}, Qualifier="split")
        seen[(response["ExecutedVersion"], response["payload"]["label"])] += 1
    assert set(seen) <= {(versions["one"], "v1"), (versions["two"], "v2")}
    # Binomial(80, 0.5): 20..60 is more than 4 standard deviations either side.
    assert 20 <= seen[(versions["two"], "v2")] <= 60


def test_latest_change_retires_only_latest_environments(
    client: Any, functions: dict[str, str], versions: dict[str, str]
) -> None:
    name = functions["alias"]
    pinned = invoke(client, name, {"print": "x"}, Qualifier=versions["one"], LogType="Tail")
    latest = invoke(client, name, {}, Qualifier="$LATEST", LogType="Tail")
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"LABEL": "v3"}}
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    again_pinned = invoke(client, name, {}, Qualifier=versions["one"], LogType="Tail")
    again_latest = invoke(client, name, {}, Qualifier="$LATEST", LogType="Tail")
    assert again_latest["payload"]["label"] == "v3"
    assert "Init Duration" in _report(again_latest)  # a new environment
    assert again_pinned["payload"]["label"] == "v1"
    assert "Init Duration" not in _report(again_pinned)  # version 1's one was kept
    assert pinned["ExecutedVersion"] == again_pinned["ExecutedVersion"] == versions["one"]
    assert latest["ExecutedVersion"] == "$LATEST"


def _report(response: dict) -> str:
    return base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
