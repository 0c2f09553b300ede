"""The real AWS CLI (awscli, in a subprocess) against the sandbox."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sbx_helpers import aws_cli_env

from chaosthundra.sandbox import Deployment, Sandbox


def _aws(sandbox: Sandbox, tmp_path: Path, *args: str, endpoint_flag: bool = False) -> Any:
    env = aws_cli_env(sandbox, tmp_path)
    command = [_aws_command(), *args]
    if endpoint_flag:
        del env["AWS_ENDPOINT_URL"]
        command[1:1] = ["--endpoint-url", sandbox.endpoint_url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def _aws_command() -> str:
    here = Path(sys.executable).parent / "aws"
    found = str(here) if here.exists() else shutil.which("aws")
    if not found:
        pytest.skip("the AWS CLI (awscli) is not installed")
    return found


def test_cli_get_function_configuration(
    sandbox: Sandbox, deployed: Deployment, tmp_path: Path
) -> None:
    config = _aws(sandbox, tmp_path, "lambda", "get-function-configuration",
                  "--function-name", "sbx-echo")  # fmt: skip
    assert config["FunctionName"] == "sbx-echo"
    assert config["Handler"] == "echo.handler"
    assert config["MemorySize"] == 256
    assert config["Environment"]["Variables"]["GREETING"] == "hello"


def test_cli_invoke(sandbox: Sandbox, deployed: Deployment, tmp_path: Path) -> None:
    outfile = tmp_path / "out.json"
    meta = _aws(
        sandbox, tmp_path, "lambda", "invoke", "--function-name", "sbx-echo",
        "--payload", json.dumps({"from": "cli"}), "--log-type", "Tail", str(outfile),
        endpoint_flag=True,
    )  # fmt: skip
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "LogResult" in meta
    assert json.loads(outfile.read_text())["event"] == {"from": "cli"}


def test_cli_dynamodb_scan_sees_the_seed(
    sandbox: Sandbox, deployed: Deployment, tmp_path: Path
) -> None:
    items = _aws(sandbox, tmp_path, "dynamodb", "scan", "--table-name", "sbx-items")["Items"]
    assert sorted(item["id"]["S"] for item in items) == ["a", "b"]
