"""One checker process: ``<python> -I -S`` running :mod:`parser_probe` in an empty folder,
and the requests it answers, one at a time.

Its first line binds it to an agent and the folders of its path (a spare is started
bound to nothing, and imports the standard-library modules earlier checks loaded,
``<cache>/checker-stdlib.json``); then each request is one JSON line and each answer
another (see :mod:`parser_probe`). Which processes run, and which one serves a check,
is :mod:`chaosthundra.agents.parser_process`'s business.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Callable, Optional

from chaosthundra.agents.profile import AgentProfile
from chaosthundra.cache import cache_base, keep_json

__all__ = ["PROBE", "Died", "ParserProcess", "failed"]

PROBE = Path(__file__).resolve().parent / "parser_probe.py"


class Died(Exception):
    """The process ended (or its pipe broke) before it answered."""

    def __init__(self, returncode: Optional[int], served_before: bool) -> None:
        super().__init__(returncode)
        self.returncode = returncode
        self.served_before = served_before


def failed(message: str) -> Exception:
    """ActivityFailed(message); chaoslib is imported here, not with this module, so that
    importing this module stays light."""
    from chaoslib.exceptions import ActivityFailed

    return ActivityFailed(message)


def _warm_file() -> Path:
    return cache_base() / "checker-stdlib.json"


def _known_stdlib() -> list[str]:
    try:
        names = json.loads(_warm_file().read_text())
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str) and n.isidentifier()]


def _learn_stdlib(names: list[str]) -> None:
    """Remember the standard-library modules a check loaded, for the next spares."""
    known = _known_stdlib()
    if not set(names) <= set(known):
        keep_json(_warm_file(), sorted(set(known) | set(names)))


class ParserProcess:
    """One running checker process and the requests it answers, one at a time."""

    def __init__(
        self, python: str, forget: Callable[[ParserProcess], None], warm: bool = False
    ) -> None:
        """``forget``: what ends a process that did not answer in time (the pool's, which
        also drops it from the pool); ``warm``: a spare, which imports the
        standard-library modules checks need."""
        self._forget = forget
        self.warm = set(_known_stdlib()) if warm else set()
        self.python = python
        self.key: tuple[str, str, tuple[str, ...]] = ("", python, ())
        self.identity: list = []
        self.what = "the agent's parser"
        self.served = 0
        self._lock = threading.Lock()
        self._neutral = tempfile.mkdtemp(prefix="chaosthundra-check-")
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "CHAOSTHUNDRA_PROBE_WARM": ",".join(sorted(self.warm)),
        }
        try:
            self._proc = subprocess.Popen(
                [python, "-I", "-S", str(PROBE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=self._neutral,
                env=env,
                start_new_session=True,  # a Ctrl-C of the experiment is not its business
            )
        except OSError:
            self._cleanup()
            raise
        self.pid = self._proc.pid
        self._pending = b""

    def bind(self, agent: AgentProfile, folders: tuple[str, ...], now: list) -> None:
        """Have the process serve ``agent`` with ``folders`` on its path (its first line)."""
        self.key = (agent.name, self.python, folders)
        self.identity = now
        self.what = f"the {agent.title} agent's parser (from {folders[0]}, on {self.python})"
        setup = {
            "path": list(folders),
            "module": agent.parser_module,
            "logger": agent.logger_name,
            "variable": agent.env_key("check"),
            "environ": {agent.disable_variable: "true"},
        }
        with contextlib.suppress(Died):  # the first request finds it dead and says why
            self._send(setup)

    def _send(self, message: dict) -> None:
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        except OSError:
            raise Died(self._proc.wait(), self.served > 0) from None

    def alive(self) -> bool:
        return self._proc.poll() is None

    def ask(self, value: str, full: bool, timeout: float) -> dict:
        with self._lock:
            self._send({"value": value, "full": full})
            line = self._read_line(timeout)
            self.served += 1
        answer = json.loads(line)
        if "described" in answer:
            _learn_stdlib(answer.get("stdlib") or [])
            return answer["described"]
        raise failed(self.failure(answer["failed"].strip().splitlines()[-1], answer))

    def failure(self, error: str, answer: Optional[dict] = None) -> str:
        """The message for a parser that failed: what it said, and what to do."""
        said = answer["failed"] if answer else self._stderr_tail()
        return (
            f"chaosthundra: {self.what} failed while checking the listener config ({error}): "
            f"{said.strip()[-500:]}. Check that the agent and its dependencies import "
            "there; for a function's package, that its requirements were installed into it."
        )

    def _read_line(self, timeout: float) -> bytes:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self._forget(self)
                    raise failed(
                        f"chaosthundra: {self.what} did not answer within {timeout:g} s while "
                        "checking the listener config. Check that the agent imports quickly "
                        "where chaosthundra runs (python -c 'import thundra'), then run the "
                        "experiment again."
                    )
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise Died(self._proc.wait(), self.served > 0)
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        """End the process: the end of its stdin, then a kill if it does not go."""
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._cleanup()

    def _cleanup(self) -> None:
        self._stderr.close()
        shutil.rmtree(self._neutral, ignore_errors=True)
