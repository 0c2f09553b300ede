"""Each Runtime on its own interpreter (DESIGN.md, "The Python runtimes"): the same
code deployed as python3.11, 3.12 and 3.13 runs on that CPython, with Lambda's
``sys.path``; a Runtime without an interpreter here, and a non-Python one, is deployed
as AWS deploys it and refused at invoke, running nothing. Real sandbox, real workers,
real agents."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError
from sbx_helpers import invoke, make_client

from chaosthundra import runtimes
from chaosthundra.sandbox import Sandbox
from tests.sandbox_functions import THUNDRA_2_REQUIREMENTS, package

RUNNABLE = ("python3.11", "python3.12", "python3.13")
REPORT = """
import os, sys


def handler(event, context):
    import boto3

    return {
        "version": list(sys.version_info[:2]),
        "execution_env": os.environ["AWS_EXECUTION_ENV"],
        "path": sys.path,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"],
        "stdlib": os.path.dirname(os.__file__),
        "boto3": boto3.__file__,
        "boto3_version": boto3.__version__,
        "mode": os.environ.get("MODE"),
    }
"""
# Writes a mark wherever it runs: at import and in the handler.
MARKING = """
import os

open(os.environ["MARK"], "a").write("imported\\n")


def handler(event, context):
    open(os.environ["MARK"], "a").write("ran\\n")
    return "ran"
"""
IN_PROGRESS = (
    "The operation cannot be performed at this time. An update is in progress for resource: {}"
)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def _needs(runtime: str) -> None:
    if runtimes.interpreter(runtime) is None:
        pytest.skip(runtimes.missing_interpreter_message(runtime))


@pytest.fixture(scope="module")
def lam(sandbox: Sandbox) -> Any:
    return make_client(sandbox, "lambda", read_timeout=60, max_pool_connections=20)


@pytest.fixture(scope="module")
def role(sandbox: Sandbox) -> str:
    iam = make_client(sandbox, "iam")
    name = f"sbx-runtimes-{uuid.uuid4().hex[:6]}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])


@pytest.fixture
def create(lam: Any, role: str) -> Callable[..., str]:
    """Create a function of ``runtime`` from ``code`` (a zip), wait until Active."""

    def make(runtime: str, code: bytes, handler: str = "app.handler", **extra: Any) -> str:
        name = f"rt-{runtime.replace('.', '')}-{uuid.uuid4().hex[:8]}"
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler=handler,
            Code={"ZipFile": code},
            **extra,
        )
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        return name

    return make


@pytest.mark.parametrize("runtime", RUNNABLE)
def test_the_same_code_runs_on_the_python_its_runtime_names(runtime: str, lam, create) -> None:
    _needs(runtime)
    name = create(runtime, _zip({"app.py": REPORT}))
    response = invoke(lam, name, LogType="Tail")
    out = response["payload"]
    major, minor = runtimes.version_of(runtime)  # type: ignore[misc]
    assert out["version"] == [major, minor]
    assert out["execution_env"] == f"AWS_Lambda_{runtime}"
    # Lambda's order: the package, the runtime's own folder (boto3), the interpreter's.
    assert out["path"][:2] == [out["task_root"], out["runtime_dir"]]
    assert all(entry.startswith(str(Path(out["stdlib"]).parent)) for entry in out["path"][2:])
    assert out["boto3"].startswith(out["runtime_dir"] + os.sep)
    log = base64.b64decode(response["LogResult"]).decode()
    assert log.startswith(f"INIT_START Runtime Version: python:{major}.{minor}.sandbox\n")


def test_a_package_that_bundles_boto3_shadows_the_runtimes(lam, create) -> None:
    _needs("python3.12")
    own = {"app.py": REPORT, "boto3/__init__.py": "__version__ = 'bundled'\n"}
    out = invoke(lam, create("python3.12", _zip(own)))["payload"]
    assert (out["boto3_version"], out["version"]) == ("bundled", [3, 12])
    assert out["boto3"] == os.path.join(out["task_root"], "boto3", "__init__.py")


@pytest.mark.parametrize("runtime", ["python3.14", "nodejs20.x"])
def test_a_runtime_the_sandbox_cannot_run_is_deployed_and_refused_at_invoke(
    runtime: str, sandbox: Sandbox, lam, create, tmp_path: Path
) -> None:
    if runtimes.interpreter(runtime) is not None:
        pytest.skip(f"{runtime} has an interpreter on this machine")
    mark = tmp_path / "mark"
    files = {"app.py": MARKING, "index.js": "exports.handler = async () => 'ran';\n"}
    handler = "index.handler" if runtime.startswith("nodejs") else "app.handler"
    name = create(
        runtime, _zip(files), handler=handler, Environment={"Variables": {"MARK": str(mark)}}
    )
    assert name in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    config = lam.get_function(FunctionName=name)["Configuration"]
    assert (config["Runtime"], config["State"]) == (runtime, "Active")
    workers = set(sandbox.worker_pids())
    for kind in ("RequestResponse", "Event"):
        with pytest.raises(ClientError) as raised:
            lam.invoke(FunctionName=name, Payload=b"{}", InvocationType=kind)
        response = raised.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert response["Error"]["Code"] == "InvalidRuntimeException"
        assert response["Error"]["Message"] == runtimes.missing_interpreter_message(runtime)
        assert f"'{runtime}'" in response["Error"]["Message"]
    assert not mark.exists()  # nothing ran, not even an import
    assert set(sandbox.worker_pids()) <= workers


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        ("python3.11", {"payload": {"wrapped": True}}),
        (
            "python3.12",
            {
                "FunctionError": "Unhandled",
                "payload": {
                    "errorMessage": "Unable to import module 'thundra.handler': "
                    "No module named 'imp'",
                    "errorType": "Runtime.ImportModuleError",
                    "requestId": "",
                    "stackTrace": [],
                },
            },
        ),
    ],
)
def test_the_thundra_2_layer_wrapper_works_on_3_11_and_fails_as_on_aws_on_3_12(
    runtime: str, expected: dict, lam, create
) -> None:
    """The answer follows the function's Runtime, not the Python the sandbox runs on."""
    _needs(runtime)
    app = {"app.py": "def handler(event, context):\n    return {'wrapped': True}\n"}
    name = create(
        runtime,
        package(app, THUNDRA_2_REQUIREMENTS, runtime=runtime),
        handler="thundra.handler.wrapper",
        Environment={
            "Variables": {"THUNDRA_AGENT_LAMBDA_HANDLER": "app.handler", "THUNDRA_APIKEY": "k"}
        },
    )
    response = invoke(lam, name)
    got = {key: response[key] for key in expected if key in response}
    assert got == expected
    if "FunctionError" in expected:  # key order as AWS writes it
        assert list(response["payload"]) == list(expected["payload"])


def _alias(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("ResponseMetadata", "RevisionId")}


def test_an_alias_without_weights_has_no_routing_config_and_reads_back_identical(
    lam, create
) -> None:
    name = create("python3.11", _zip({"app.py": REPORT}))
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Description="two")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.publish_version(FunctionName=name)
    created = lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {}},  # as Terraform sends it
    )
    before = lam.get_alias(FunctionName=name, Name="live")
    assert "RoutingConfig" not in created and "RoutingConfig" not in before
    assert _alias(created) == _alias(before)
    weighted = lam.update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}}
    )
    assert weighted["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}
    undone = lam.update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    after = lam.get_alias(FunctionName=name, Name="live")
    listed = lam.list_aliases(FunctionName=name)["Aliases"]
    assert "RoutingConfig" not in undone and "RoutingConfig" not in listed[0]
    assert _alias(after) == _alias(before) == _alias(undone)
    assert after["RevisionId"] != before["RevisionId"]  # as on AWS: every change has one


WRITERS = 16


@pytest.mark.parametrize("runtime", RUNNABLE)
def test_one_of_16_concurrent_updates_is_accepted_the_others_get_the_409(
    runtime: str, sandbox: Sandbox, lam, create
) -> None:
    _needs(runtime)
    name = create(runtime, _zip({"app.py": REPORT}))
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    before = sandbox.update_delay_ms
    sandbox.update_delay_ms = 1000
    start = threading.Barrier(WRITERS)
    outcomes: list[Any] = [None] * WRITERS

    def write(index: int) -> None:
        start.wait()
        try:
            lam.update_function_configuration(
                FunctionName=name, Environment={"Variables": {"MODE": str(index)}}
            )
            outcomes[index] = "accepted"
        except ClientError as error:
            outcomes[index] = (
                error.response["ResponseMetadata"]["HTTPStatusCode"],
                error.response["Error"]["Code"],
                error.response["Error"]["Message"],
            )

    try:
        threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sandbox.update_delay_ms = before
    accepted = [i for i, outcome in enumerate(outcomes) if outcome == "accepted"]
    refused = [o for o in outcomes if o != "accepted"]
    assert len(accepted) == 1
    assert refused == [(409, "ResourceConflictException", IN_PROGRESS.format(arn))] * 15
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    out = invoke(lam, name)["payload"]  # the accepted write is live, on that runtime
    assert (out["mode"], out["execution_env"]) == (str(accepted[0]), f"AWS_Lambda_{runtime}")


def test_sandbox_up_lists_the_functions_it_cannot_run_and_runs_the_others(
    tmp_path: Path,
) -> None:
    """A template with a Node function deploys whole; `sandbox up` names what it will
    not run, and runs the rest on the interpreter ``--python`` names."""
    python312 = runtimes.interpreter("python3.12")
    if python312 is None:
        pytest.skip(runtimes.missing_interpreter_message("python3.12"))
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "app.py").write_text(REPORT)
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "index.js").write_text("exports.handler = async () => 'ran';\n")
    suffix = uuid.uuid4().hex[:6]
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        f"  Py:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      FunctionName: up-py-{suffix}\n      CodeUri: py/\n"
        "      Handler: app.handler\n      Runtime: python3.12\n"
        f"  Js:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      FunctionName: up-js-{suffix}\n      CodeUri: js/\n"
        "      Handler: index.handler\n      Runtime: nodejs20.x\n"
    )
    command = [sys.executable, "-m", "chaosthundra.cli", "sandbox", "up"]
    command += ["--template", str(template), "--python", f"python3.12={python312.path}"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))
            if line.startswith("export AWS_ENDPOINT_URL="):
                break
        assert (
            f"Not runnable: up-js-{suffix}: " + runtimes.missing_interpreter_message("nodejs20.x")
            in lines
        )
        assert not any(line.startswith(f"Not runnable: up-py-{suffix}") for line in lines)

        class _Box:
            endpoint_url = lines[-1].split("=", 1)[1]
            region = "us-east-1"

        client = make_client(_Box, "lambda", read_timeout=60)  # type: ignore[arg-type]
        out = invoke(client, f"up-py-{suffix}")["payload"]
        assert out["version"] == [3, 12]
        assert out["path"][2].startswith(str(python312.path.parent.parent))
        with pytest.raises(ClientError) as raised:
            client.invoke(FunctionName=f"up-js-{suffix}", Payload=b"{}")
        assert raised.value.response["Error"]["Code"] == "InvalidRuntimeException"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(
    ("option", "status", "message"),
    [
        ("3.12:/x", 2, "'3.12:/x' is not of the form python3.X=/path/to/python"),
        (
            f"python3.12={sys.executable}",
            1,
            f"python3.12={sys.executable} is not a Python 3.12 interpreter that runs here",
        ),
    ],
)
def test_a_wrong_python_option_is_refused_in_one_line(
    option: str, status: int, message: str, tmp_path: Path
) -> None:
    if sys.version_info[:2] == (3, 12) and status == 1:
        pytest.skip("this Python is 3.12")
    done = subprocess.run(
        [sys.executable, "-m", "chaosthundra.cli", "sandbox", "up", "--python", option],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == status
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_controls_pythons_reach_the_sandbox_and_a_wrong_one_starts_nothing(
    monkeypatch,
) -> None:
    from chaoslib.exceptions import InterruptExecution

    from chaosthundra.controls import sandbox as control

    if sys.version_info[:2] == (3, 12):
        pytest.skip("this Python is 3.12")
    monkeypatch.setattr(control, "_sandbox", None)
    monkeypatch.setattr(control, "_refusal", None)
    monkeypatch.delenv("CHAOSTHUNDRA_SANDBOX_URL", raising=False)
    monkeypatch.delenv("CHAOSTHUNDRA_TARGET", raising=False)
    configuration: dict[str, Any] = {"target": "sandbox"}
    control.configure_control(configuration=configuration, pythons={"python3.12": sys.executable})
    assert control._sandbox is None
    assert configuration["aws_endpoint_url"] == control.UNREACHABLE_ENDPOINT
    with pytest.raises(InterruptExecution) as refused:  # the run stops before it starts
        control.before_experiment_control({})
    assert f"python3.12={sys.executable} is not a Python 3.12 interpreter" in str(refused.value)
