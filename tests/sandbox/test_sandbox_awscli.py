"""The real AWS CLI (awscli, in a subprocess) against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from sbx_helpers import aws_cli

from chaosthundra.sandbox import Deployment, Sandbox


def test_cli_get_function_configuration(
    sandbox: Sandbox, deployed: Deployment, tmp_path: Path
) -> None:
    config = aws_cli(sandbox, tmp_path, "lambda", "get-function-configuration",
                  "--function-name", "sbx-echo")  # fmt: skip
    assert config["FunctionName"] == "sbx-echo"
    assert config["Handler"] == "echo.handler"
    assert config["MemorySize"] == 256
    assert config["Environment"]["Variables"]["GREETING"] == "hello"


def test_cli_invoke(sandbox: Sandbox, deployed: Deployment, tmp_path: Path) -> None:
    outfile = tmp_path / "out.json"
    meta = aws_cli(
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
    items = aws_cli(sandbox, tmp_path, "dynamodb", "scan", "--table-name", "sbx-items")["Items"]
    assert sorted(item["id"]["S"] for item in items) == ["a", "b"]
