"""Helpers for the sandbox tests (imported by the test modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from chaosthundra.sandbox import Sandbox

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEMPLATE = FIXTURES / "template.yaml"
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def make_client(sandbox: Sandbox, service: str, **config: Any) -> Any:
    """A boto3 client for the sandbox; no retries unless asked."""
    retries = config.pop("retries", {"max_attempts": 1, "mode": "standard"})
    return boto3.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        config=Config(retries=retries, **config),
        **DUMMY,
    )


def invoke(client: Any, name: str, event: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Invoke and decode: the response plus ``payload`` (parsed JSON, or None)."""
    kwargs.setdefault("Payload", json.dumps(event if event is not None else {}))
    response = client.invoke(FunctionName=name, **kwargs)
    raw = response["Payload"].read()
    response["payload"] = json.loads(raw) if raw else None
    return response


def aws_cli_run(
    sandbox: Sandbox, home: Path, *args: str, endpoint_flag: bool = False
) -> subprocess.CompletedProcess:
    """Run the real AWS CLI against the sandbox (dummy credentials, no config files,
    no retries) and return what it did, success or not.

    The endpoint goes through AWS_ENDPOINT_URL, or ``--endpoint-url`` with
    ``endpoint_flag``. awscli is a dev dependency: a missing one fails the test.
    """
    aws = Path(sys.executable).parent / "aws"
    assert aws.exists(), "the AWS CLI (awscli) is a dev dependency: run make install"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": sandbox.region,
        "AWS_CONFIG_FILE": str(home / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    command = [str(aws), *args]
    if endpoint_flag:
        command[1:1] = ["--endpoint-url", sandbox.endpoint_url]
    else:
        env["AWS_ENDPOINT_URL"] = sandbox.endpoint_url
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def aws_cli(sandbox: Sandbox, home: Path, *args: str, endpoint_flag: bool = False) -> Any:
    """Run the real AWS CLI against the sandbox; its JSON output (None when empty)."""
    done = aws_cli_run(sandbox, home, *args, endpoint_flag=endpoint_flag)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (reads /proc, no psutil)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/*/stat)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren... of ``pid``."""
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The processes among ``pids`` still alive after waiting up to ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def wait_for_paths(paths: list[Path], timeout: float = 30.0) -> None:
    """Wait until every path exists (a function holding on ``hold`` has started)."""
    import time

    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        assert time.monotonic() < deadline, f"not created within {timeout} s: {paths}"
        time.sleep(0.01)


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().split(b"\0") if part]


def shared_cache() -> dict[str, str]:
    """The package cache of this test run, for a child given a HOME of its own.

    A user's runs share ~/.cache/chaosthundra; a child with a temporary HOME would
    otherwise build every sandbox package from nothing again.
    """
    configured = os.environ.get("CHAOSTHUNDRA_CACHE_DIR")
    return {"CHAOSTHUNDRA_CACHE_DIR": configured or str(Path.home() / ".cache" / "chaosthundra")}
