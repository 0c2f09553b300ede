"""`chaosthundra sandbox up` in one shell, `chaos run` in another with the exports
its banner printed: the run uses that sandbox (one sandbox, its functions found)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from sandbox_functions import create_function
from sbx_helpers import FIXTURES, shared_cache

SMALL = FIXTURES / "small" / "template.yaml"
PROBES = FIXTURES / "experiment"
BIN = Path(sys.executable).parent
REGION = "eu-west-1"  # not the default: the run must take the shell's region


def _banner_exports(proc: subprocess.Popen) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines of the banner, read up to the blank line that
    ends them."""
    exports: dict[str, str] = {}
    for line in proc.stdout:  # type: ignore[union-attr]
        line = line.rstrip("\n")
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            exports[name] = " ".join(shlex.split(value))
        elif exports and not line:
            return exports
    raise AssertionError(f"sandbox up exited ({proc.wait()}): {proc.stderr.read()}")  # type: ignore[union-attr]


def _experiment(path: Path, function: str) -> Path:
    experiment: dict[str, Any] = {
        "version": "1.0.0",
        "title": "a run in another shell uses the sandbox that shell exported",
        "description": "chaosthundra's check of the sandbox up banner",
        "controls": [
            {
                "name": "chaosthundra-sandbox",
                "provider": {"type": "python", "module": "chaosthundra.controls.sandbox"},
            }
        ],
        "steady-state-hypothesis": {
            "title": "the function that only the running sandbox has answers",
            "probes": [
                {
                    "type": "probe",
                    "name": "answers",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "sbx_probes",
                        "func": "echo_answers",
                        "arguments": {"name": function},
                    },
                }
            ],
        },
        "method": [
            {
                "type": "probe",
                "name": "describe",
                "provider": {"type": "python", "module": "sbx_probes", "func": "describe"},
            }
        ],
    }
    path.write_text(json.dumps(experiment, indent=2))
    return path


@pytest.mark.e2e
def test_chaos_run_with_the_banners_exports_uses_that_sandbox(tmp_path: Path) -> None:
    shell = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    up = subprocess.Popen(
        [str(BIN / "chaosthundra"), "sandbox", "up", "--template", str(SMALL), "--region", REGION],
        env={**shell, **shared_cache()},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exports = _banner_exports(up)
        endpoint = exports.get("CHAOSTHUNDRA_SANDBOX_URL")
        assert endpoint and endpoint == exports["AWS_ENDPOINT_URL"], exports
        assert exports["AWS_REGION"] == REGION, exports

        # A function only this sandbox has: a second sandbox would answer "Function not found".
        configuration = {"aws_endpoint_url": endpoint, "aws_region": REGION}
        files = {"app.py": "def handler(e, c):\n    return 'here'\n"}
        name = create_function({**configuration, "chaosthundra_sandbox": True}, "up", files)

        journal_path, log = tmp_path / "journal.json", tmp_path / "chaos.log"
        done = subprocess.run(
            [str(BIN / "chaos"), "--no-version-check", "--log-file", str(log), "run",
             "--journal-path", str(journal_path), str(_experiment(tmp_path / "e.json", name))],
            env={**shell, **shared_cache(), "PYTHONPATH": str(PROBES), **exports},
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert journal_path.exists(), done.stderr
        journal = json.loads(journal_path.read_text())
        problems = [
            line for line in log.read_text().splitlines() if "ERROR" in line or "WARN" in line
        ]
        assert journal["status"] == "completed", "\n".join(problems)
        assert journal["steady_states"]["before"]["steady_state_met"] is True
        seen = journal["run"][0]["output"]
        assert seen["aws_endpoint_url"] == endpoint
        assert seen["aws_region"] == REGION
        assert seen["sandbox_pids"] == [], "the run started a sandbox of its own"
        assert f"using the running sandbox at {endpoint}" in log.read_text()
        # Still running, with the function the run invoked.
        # The exports alone reach it from boto3 (as from the AWS CLI).
        from_shell = boto3.Session(
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            region_name=exports["AWS_REGION"],
        ).client("lambda", endpoint_url=exports["AWS_ENDPOINT_URL"])
        assert from_shell.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=30)
        finally:
            if up.poll() is None:
                up.kill()
                up.wait()
            for stream in (up.stdout, up.stderr):
                if stream is not None:
                    stream.close()
    assert up.returncode == 0
