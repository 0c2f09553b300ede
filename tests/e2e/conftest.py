"""End-to-end fixtures: the real `chaos` CLI in a subprocess, attached to the session sandbox.

The session sandbox (tests/conftest.py) outlives each run, so the function
configuration can be read after the run, even after the run was killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from chaosthundra.aws import client
from chaosthundra.listeners import is_ours
from chaosthundra.targets.latest import variables_of
from tests.sandbox_functions import THUNDRA_2_REQUIREMENTS, create_function

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


# A function wrapped by the Thundra agent that reads Redis (key "verify").
AGENT = """\
import os
import redis
from thundra.thundra_agent import Thundra

thundra = Thundra(api_key="test")
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@thundra
def handler(event, context):
    return {"value": str(cache.get("verify"))}
"""


class ChaosRun:
    """One `chaos run` in a subprocess: its journal, log and exit code."""

    def __init__(self, tmp: Path, env: dict, experiment: Path, *args: str):
        self.journal_path = tmp / "journal.json"
        self.log_path = tmp / "chaostoolkit.log"
        command = [
            str(BIN / "chaos"),
            "--no-version-check",  # chaostoolkit's own call home, not chaosthundra's
            "--log-file",
            str(self.log_path),
            "run",
            "--journal-path",
            str(self.journal_path),
            *args,
            str(experiment),
        ]
        self.proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def wait(self, timeout: float = 180) -> int:
        out, _ = self.proc.communicate(timeout=timeout)
        self.output = out
        return self.proc.returncode

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_path.exists() and text in self.log_path.read_text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"chaos exited before logging {text!r}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not logged within {timeout} s")

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    @property
    def journal(self) -> dict:
        return json.loads(self.journal_path.read_text())


@pytest.fixture
def chaos_env(sandbox) -> dict:
    env = dict(os.environ)
    env.update(
        CHAOSTHUNDRA_SANDBOX_URL=sandbox.endpoint_url,
        PYTHONPATH=str(REPO),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("CHAOSTHUNDRA_TARGET", None)
    return env


def _chaos_runs(tmp_path: Path, default_env: dict):
    """``start(experiment, *args, env=None)`` for a fixture; kills what is left at the end."""
    runs = []

    def start(experiment: Path, *args: str, env: Optional[dict] = None) -> ChaosRun:
        folder = tmp_path / f"run{len(runs)}"
        folder.mkdir()
        run = ChaosRun(folder, env or default_env, experiment, *args)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGKILL)
            run.proc.wait()


@pytest.fixture
def run_chaos(tmp_path, chaos_env):
    yield from _chaos_runs(tmp_path, chaos_env)


@pytest.fixture(scope="session", params=["sandbox-up", "aws"])
def account(request, tmp_path_factory):
    """functions/template.yaml deployed where a real account's run goes (tests/e2e/account.py):
    `chaosthundra sandbox up` through its endpoint, or, with CHAOSTHUNDRA_TEST_TARGET=aws,
    a real account (skipped without it)."""
    from tests.e2e.account import open_account

    yield from open_account(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture
def run_on_account(account, tmp_path):
    """``start(experiment, *args)``: a `chaos run` against ``account``; the sockets off the
    machine that ``account`` records are this test's."""
    if account.refused is not None:
        account.refused.unlink(missing_ok=True)
    yield from _chaos_runs(tmp_path, account.env)


@pytest.fixture
def function_state(sandbox_configuration):
    """Read a function's variables from the sandbox, and which of them are ours."""
    lam = client("lambda", sandbox_configuration)

    def read(name: str) -> dict:
        return variables_of(lam.get_function_configuration(FunctionName=name))

    read.ours = lambda name: sorted(k for k in read(name) if is_ours(k))
    return read


@pytest.fixture
def lam(sandbox_configuration):
    """A Lambda client of the session sandbox (reads wait up to 60 s)."""
    return client("lambda", sandbox_configuration, read_timeout=60)


@pytest.fixture
def aliased(make, lam) -> str:
    """A Thundra-wrapped Redis reader (AGENT) with alias 'live' on version 1."""
    name = make({"app.py": AGENT})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


@pytest.fixture
def make(sandbox, sandbox_configuration):
    """``create(files, variables=None, requirements=...)``: a function in the sandbox whose
    package is ``files`` plus ``requirements`` (Thundra 2.x and redis by default), handler
    ``app.handler``; ``variables`` default to REDIS_URL and a THUNDRA_APIKEY."""
    lam = client("lambda", sandbox_configuration)

    def create(
        files: dict, variables: Optional[dict] = None, requirements: str = THUNDRA_2_REQUIREMENTS
    ) -> str:
        if variables is None:
            variables = {"REDIS_URL": sandbox.redis_url, "THUNDRA_APIKEY": "t"}
        return create_function(
            sandbox_configuration,
            "packaged",
            files,
            requirements=requirements,
            Timeout=5,
            Environment={"Variables": variables},
        )

    create.variables = lambda name: variables_of(lam.get_function_configuration(FunctionName=name))
    return create


def chaosthundra_clear(sandbox, function: str) -> subprocess.CompletedProcess:
    """`chaosthundra clear --function <function> --yes` on the session sandbox; exit 0."""
    cleared = subprocess.run(
        [str(BIN / "chaosthundra"), "clear", "--function", function, "--yes"]
        + ["--sandbox-url", sandbox.endpoint_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cleared.returncode == 0, cleared.stderr
    return cleared


SAFEGUARD = {
    "name": "chaosthundra-safeguard",
    "provider": {"type": "python", "module": "chaosthundra.controls.safeguard"},
}


def sandbox_experiment(
    path: Path, sandbox, title: str, method: list, controls: tuple = (SAFEGUARD,), **configuration
) -> Path:
    """Write at ``path`` an experiment that runs ``method`` against the session sandbox."""
    data = {
        "title": title,
        "description": "Written by a test.",
        "configuration": {
            "aws_endpoint_url": sandbox.endpoint_url,
            "aws_region": sandbox.region,
            "chaosthundra_sandbox": True,
            **configuration,
        },
        "controls": list(controls),
        "method": method,
        "rollbacks": [],
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def layered(sandbox_configuration, lam):
    """``layered(prefix)``: a function instrumented the layer way (nothing to build), with
    alias 'live' on version 1."""

    def create(prefix: str) -> str:
        name = create_function(
            sandbox_configuration,
            prefix,
            {"app.py": "def handler(event, context):\n    return event\n"},
            Handler="thundra.handler.wrapper",
            Environment={"Variables": {"KEEP": "me", "THUNDRA_APIKEY": "dummy"}},
        )
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        return name

    return create


def variant(tmp_path: Path, experiment: str, change) -> Path:
    """A copy of an experiment with `change(experiment_dict)` applied."""
    data = json.loads((REPO / "experiments" / experiment).read_text())
    change(data)
    path = tmp_path / f"variant-{experiment}"
    path.write_text(json.dumps(data))
    return path


def break_after_method(marker: Path):
    """An experiment change: the method touches ``marker``, after which the hypothesis's
    first probe raises, so the run ends "failed" with the fault on."""

    def change(data: dict) -> None:
        data["method"].append(
            {
                "type": "action",
                "name": "mark-the-method",
                "provider": {"type": "process", "path": "touch", "arguments": str(marker)},
            }
        )
        # first, so that the hypothesis after the method reaches it
        data["steady-state-hypothesis"]["probes"].insert(
            0,
            {
                "type": "probe",
                "name": "breaks-after-the-method",
                "tolerance": True,
                "provider": {
                    "type": "python",
                    "module": "tests.e2e.helpers",
                    "func": "fail_once_marked",
                    "arguments": {"marker": str(marker)},
                },
            },
        )

    return change


def pause_after_enable(seconds: int):
    """An experiment change: pause after the first method action (and no verify)."""

    def change(data: dict) -> None:
        data["method"][0]["pauses"] = {"after": seconds}
        data["method"][0]["provider"]["arguments"].pop("verify", None)

    return change
