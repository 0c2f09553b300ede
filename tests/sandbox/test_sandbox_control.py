"""The sandbox control, in-process and under the real `chaos run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sbx_helpers import FIXTURES, alive, shared_cache

from chaosthundra.controls import sandbox as control

SMALL = FIXTURES / "small" / "template.yaml"
PROBES = FIXTURES / "experiment"


def _chaos() -> str:
    return str(Path(sys.executable).parent / "chaos")


def _experiment(tmp_path: Path, with_invoke: bool, target: str | None = None) -> Path:
    steady = {
        "title": "the function answers through the sandbox",
        "probes": [
            {
                "type": "probe",
                "name": "echo-answers",
                "tolerance": True,
                "provider": {
                    "type": "python",
                    "module": "sbx_probes",
                    "func": "echo_answers",
                    "arguments": {"name": "sbx-life"},
                },
            }
        ],
    }
    experiment: dict[str, Any] = {
        "version": "1.0.0",
        "title": "the sandbox control points activities at the sandbox",
        "description": "chaosthundra's own end-to-end check of its sandbox control",
        "configuration": {"aws_region": "us-east-1"},
        "controls": [
            {
                "name": "chaosthundra-sandbox",
                "provider": {
                    "type": "python",
                    "module": "chaosthundra.controls.sandbox",
                    "arguments": {"template": str(SMALL)},
                },
            }
        ],
        "method": [
            {
                "type": "probe",
                "name": "describe",
                "provider": {"type": "python", "module": "sbx_probes", "func": "describe"},
            }
        ],
    }
    if with_invoke:
        experiment["steady-state-hypothesis"] = steady
    if target is not None:
        # `chaos run --var` overrides only keys the experiment declares.
        experiment["configuration"]["target"] = target
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment, indent=2))
    return path


def _run(tmp_path: Path, experiment: Path, *extra: str, **env: str) -> dict[str, Any]:
    journal = tmp_path / "journal.json"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(PROBES),
        **shared_cache(),
        **env,
    }
    done = subprocess.run(
        [_chaos(), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"), "run",
         "--journal-path", str(journal), *extra, str(experiment)],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert journal.exists(), done.stderr
    return json.loads(journal.read_text())


@pytest.mark.e2e
def test_chaos_run_activities_use_the_sandbox(tmp_path: Path) -> None:
    journal = _run(tmp_path, _experiment(tmp_path, with_invoke=True))
    assert journal["status"] == "completed", journal
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    seen = journal["run"][0]["output"]
    assert seen["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert seen["chaosthundra_sandbox"] is True
    assert seen["aws_region"] == "us-east-1"
    # cleanup_control stopped the sandbox: nothing it started outlives `chaos run`.
    assert seen["sandbox_pids"] and not any(alive(pid) for pid in seen["sandbox_pids"])


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["var", "env"])
def test_chaos_run_against_aws_leaves_the_configuration_alone(tmp_path: Path, how: str) -> None:
    if how == "var":
        experiment = _experiment(tmp_path, with_invoke=False, target="sandbox")
        journal = _run(tmp_path, experiment, "--var", "target=aws")
    else:
        experiment = _experiment(tmp_path, with_invoke=False)
        journal = _run(tmp_path, experiment, CHAOSTHUNDRA_TARGET="aws")
    assert journal["status"] == "completed", journal
    seen = journal["run"][0]["output"]
    assert seen["aws_endpoint_url"] is None
    assert seen["chaosthundra_sandbox"] is None
    assert seen["sandbox_pids"] == []


def test_configure_control_updates_the_given_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSTHUNDRA_TARGET", raising=False)
    configuration: dict[str, Any] = {"aws_region": "us-east-1", "other": 1}
    control.configure_control(configuration=configuration, template=str(SMALL), update_delay_ms=250)
    try:
        box = control.current()
        assert box is not None
        assert box.update_delay_ms == 250
        assert configuration == {
            "other": 1,
            **box.configuration(),
            "chaosthundra_redis_url": box.redis_url,
        }
    finally:
        control.cleanup_control()
    assert control.current() is None


def test_configure_control_fails_safe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CHAOSTHUNDRA_TARGET", raising=False)
    configuration: dict[str, Any] = {"aws_region": "us-east-1"}
    control.configure_control(configuration=configuration, template=str(tmp_path / "nope.yaml"))
    assert control.current() is None
    # Activities then fail instead of reaching real AWS with real credentials.
    assert configuration["aws_endpoint_url"] == control.UNREACHABLE_ENDPOINT
    assert configuration["chaosthundra_sandbox"] is True
