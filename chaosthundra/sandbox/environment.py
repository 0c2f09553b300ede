"""One execution environment: a worker subprocess that has imported a handler.

The worker gets the environment variables :mod:`.worker_variables` builds (never the
host's). It runs on the interpreter of the function's Runtime (:mod:`.pythons`)
without its site-packages (``-S``). Its ``sys.path`` is Lambda's: the function's
package (``LAMBDA_TASK_ROOT``), then the runtime's own folder with boto3 and botocore
(``PYTHONPATH``), then that interpreter's standard library; a package that bundles
boto3 wins. Most environments are forked from a warm template of their package and
runtime that has already imported the runtime's boto3 (:mod:`.warm`); the rest are
spawned.

Differences from AWS: no layers (the sandbox deploys none), memory is not limited
(MemorySize is only reported), and ``/tmp`` is the host's.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import worker
from .errors import ApiError
from .moto_state import FunctionSpec
from .pythons import PythonRuntime
from .warm import ForkedProcess, Template

__all__ = ["Environment", "Outcome"]

WORKER = Path(worker.__file__).resolve()
INIT_LIMIT_S = 10.0
MAX_LOG_BYTES = 1024 * 1024
_ids = itertools.count(1)


@dataclass
class Outcome:
    """What one phase (init or invoke) of an environment produced.

    ``status`` is ``ok``, ``error`` (the function failed, ``body`` is the Lambda
    error payload), ``timeout`` or ``exit`` (the runtime died, ``exit_reason`` says
    how). ``log`` is the output written during the phase.
    """

    status: str
    body: bytes = b""
    log: bytes = b""
    duration_ms: float = 0.0
    max_memory_mb: int = 0
    exit_reason: str = ""


def _exit_reason(returncode: int) -> str:
    """Describe an exit status the way the Lambda runtime (Go) does."""
    if returncode >= 0:
        return f"exit status {returncode}"
    names = {
        signal.SIGKILL: "killed",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGABRT: "aborted",
        signal.SIGTERM: "terminated",
        signal.SIGBUS: "bus error",
        signal.SIGINT: "interrupt",
    }
    try:
        return f"signal: {names.get(signal.Signals(-returncode), signal.Signals(-returncode).name)}"
    except ValueError:
        return f"signal: {-returncode}"


class Environment:
    """A worker process serving one request at a time for one function revision."""

    def __init__(self, spec: FunctionSpec, log_stream: str, runtime: PythonRuntime) -> None:
        self.spec = spec
        self.runtime = runtime
        self.id = f"env-{next(_ids)}-{uuid.uuid4().hex[:8]}"
        self.log_stream = log_stream
        self.created = time.monotonic()
        self.last_used = self.created
        self.init_ms = 0.0
        self._proc: Optional[subprocess.Popen[bytes] | ForkedProcess] = None
        self._req_w = self._resp_r = self._life_w = -1
        self._stop_w = -1  # closing it tells the log reader to stop
        self._log = bytearray()
        self._log_eof = False
        self._log_cond = threading.Condition()
        self._reader: Optional[threading.Thread] = None
        self._killed = False
        self._released = False
        self._lock = threading.Lock()
        self._owner: Optional[int] = None  # the thread running start() or invoke()

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and not self._killed

    # --- lifecycle ------------------------------------------------------------------

    def start(
        self, env: dict[str, str], cwd: Path, deadline: float, template: Optional[Template] = None
    ) -> Outcome:
        """Spawn the worker, or fork it from ``template``, and wait for the handler import
        (the cold start)."""
        with self._using():
            req_r, self._req_w = os.pipe()
            self._resp_r, resp_w = os.pipe()
            log_r, log_w = os.pipe()
            stop_r, self._stop_w = os.pipe()
            life_r, self._life_w = os.pipe()
            child_fds = (req_r, resp_w, life_r)
            started = time.monotonic()
            try:
                if template is not None:
                    self._proc = template.fork(env, cwd, (req_r, resp_w, life_r, log_w))
                else:
                    self._proc = subprocess.Popen(
                        [
                            str(self.runtime.python),
                            "-S",
                            str(self.runtime.program),
                            *map(str, child_fds),
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=log_w,
                        stderr=log_w,
                        pass_fds=child_fds,
                        env=env,
                        cwd=str(cwd),
                        close_fds=True,
                    )
            except (OSError, ApiError) as exc:
                self._killed = True
                os.close(log_r)
                os.close(stop_r)
                raise ApiError(500, "ServiceException", f"cannot start a worker: {exc}") from exc
            finally:
                for fd in (*child_fds, log_w):
                    os.close(fd)
            self._reader = threading.Thread(
                target=self._read_log,
                args=(log_r, stop_r),
                name=f"chaosthundra-log-{self.id}",
                daemon=True,
            )
            self._reader.start()
            outcome = self._await(deadline)
            self.init_ms = (time.monotonic() - started) * 1000
            return outcome

    def kill(self) -> None:
        """Kill the worker (and anything it started in its session), release all.

        Safe from any thread: when another thread is using the environment, only the
        process is killed here; that thread sees it die and releases the pipes.
        """
        with self._lock:
            first = not self._killed
            self._killed = True
            borrowed = self._owner is not None and self._owner != threading.get_ident()
        proc = self._proc
        if first and proc is not None and proc.poll() is None:
            if isinstance(proc, ForkedProcess):
                proc.kill()  # its group too, by the template that can tell it still exists
            else:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
        if not borrowed:
            self._release()

    @contextmanager
    def _using(self) -> Iterator[None]:
        with self._lock:
            self._owner = threading.get_ident()
        try:
            yield
        finally:
            with self._lock:
                self._owner = None
                killed = self._killed
            if killed:
                self._release()

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        if self._proc is not None:
            self._proc.wait()
        # The reader owns the log pipe and closes it itself: a descriptor closed
        # under a running reader could be reused for another environment's log.
        for fd in (self._req_w, self._life_w, self._stop_w, self._resp_r):
            if fd >= 0:
                os.close(fd)
        self._req_w = self._life_w = self._stop_w = self._resp_r = -1
        if self._reader is not None:
            self._reader.join()

    # --- invocation -----------------------------------------------------------------

    def invoke(
        self,
        request_id: str,
        payload: bytes,
        invoked_arn: str,
        client_context: Optional[dict],
        timeout_s: float,
    ) -> Outcome:
        """Run one request; on timeout or a dead runtime the environment is killed."""
        started = time.monotonic()
        deadline = started + timeout_s
        header = {
            "type": "invoke",
            "request_id": request_id,
            "deadline_ms": int((time.time() + timeout_s) * 1000),
            "invoked_arn": invoked_arn,
            "client_context": client_context,
        }
        self.last_used = started
        with self._using():
            try:
                worker.write_frame(self._req_w, header, payload)
            except (OSError, ValueError):
                return self._died(started)
            outcome = self._await(deadline)
        if outcome.status in ("timeout", "exit"):
            outcome.duration_ms = (time.monotonic() - started) * 1000
        self.last_used = time.monotonic()
        return outcome

    def _await(self, deadline: float) -> Outcome:
        started = time.monotonic()
        # poll, not select: a sandbox with many environments has descriptors past
        # select's limit of 1024, and select would then fail for a living worker.
        poller = select.poll()
        poller.register(self._resp_r, select.POLLIN)
        try:
            ready = poller.poll(max(0.0, deadline - started) * 1000)
        except (OSError, ValueError):
            return self._died(started)
        if not ready:
            self.kill()
            return Outcome("timeout", log=self._take_log(None))
        try:
            frame = worker.read_frame(self._resp_r)
        except (OSError, ValueError):
            frame = None
        if frame is None:
            return self._died(started)
        meta, body = frame
        log = self._take_log(time.monotonic() + 2)
        status = {"result": None, "ready": "ok", "init_error": "error"}.get(meta["type"])
        if status is None:
            status = "ok" if meta.get("status") == "ok" else "error"
        return Outcome(
            status=status,
            body=body,
            log=log,
            duration_ms=float(meta.get("duration_ms", 0.0)),
            max_memory_mb=int(meta.get("max_rss_kb", 0)) // 1024,
        )

    def _died(self, started: float) -> Outcome:
        proc = self._proc
        returncode = -9
        if proc is not None:
            try:
                returncode = proc.wait(timeout=1)
            except subprocess.TimeoutExpired:  # it closed its pipe but lives on
                self.kill()
                returncode = proc.wait()
        self.kill()
        return Outcome(
            "exit",
            log=self._take_log(None),
            duration_ms=(time.monotonic() - started) * 1000,
            exit_reason=_exit_reason(returncode),
        )

    # --- the log pipe ---------------------------------------------------------------

    def _read_log(self, fd: int, stop: int) -> None:
        """Collect the worker's output until EOF, or until told to stop (a process the
        function started may hold the pipe open forever): then take what is already
        written, and close both descriptors."""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(stop, select.POLLIN)
        try:
            while True:
                if stop in {ready for ready, _ in poller.poll()}:
                    self._drain_log(fd)
                    return
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self._append_log(chunk)
        finally:
            os.close(fd)
            os.close(stop)
            with self._log_cond:
                self._log_eof = True
                self._log_cond.notify_all()

    def _drain_log(self, fd: int) -> None:
        """Take what is in the pipe now, without waiting for more."""
        os.set_blocking(fd, False)
        taken = 0
        while taken <= MAX_LOG_BYTES:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # BlockingIOError: nothing more for now
                return
            if not chunk:
                return
            self._append_log(chunk)
            taken += len(chunk)

    def _append_log(self, chunk: bytes) -> None:
        with self._log_cond:
            self._log += chunk
            if len(self._log) > 2 * MAX_LOG_BYTES and worker.END_OF_OUTPUT not in self._log:
                del self._log[:-MAX_LOG_BYTES]
            self._log_cond.notify_all()

    def _take_log(self, until: Optional[float]) -> bytes:
        """The output up to the next end-of-output marker (``until`` given), or all
        output up to EOF (the worker is dead)."""
        marker = worker.END_OF_OUTPUT
        limit = until if until is not None else time.monotonic() + 2
        with self._log_cond:
            while True:
                index = self._log.find(marker) if until is not None else -1
                if index >= 0:
                    out = bytes(self._log[:index])
                    del self._log[: index + len(marker)]
                    return out
                remaining = limit - time.monotonic()
                if self._log_eof or remaining <= 0:
                    out = bytes(self._log).replace(marker, b"")
                    self._log.clear()
                    return out
                self._log_cond.wait(remaining)
