"""The agent's parser in a checker process of its own, reused for every check.

One process per interpreter and path: ``<python> -I -S`` running :mod:`parser_probe`
in an empty folder, so neither the caller's working directory nor anything installed
beside chaosthundra can shadow a module. The interpreter is the one of the function's
Runtime, and the path holds, in Lambda's order, the agent's folder (the function's
unpacked package, or the folder where the agent is installed), the layers and the
runtime's own boto3 and botocore (see :mod:`chaosthundra.agents.check`). It imports the
agent's parser afresh for every value, so each check reads the variable at import as a
function's agent does, while what the parser imports (``redis`` for
``redis.ConnectionError``) stays loaded between checks.

A spare checker per interpreter, bound to no path yet, is started by :func:`warm_up`
(on the interpreter the last new checker ran on, ``<cache>/checker-python.json``: the
function's runtime, which need not be this process's Python) and again after each one
is taken: the first check of a path finds an interpreter with its imports done.
Importing this module starts nothing: the safeguard control warms up before the
experiment, and each enable as it begins (its preflight reads overlap the boot). Its
imports are the standard-library modules that earlier checks loaded
(``<cache>/checker-stdlib.json``, learnt from every answer): a path that ships a module
of one of those names gets a process of its own instead, so that its module is the one
imported, as in the function.

The process ends with the one that started it (end of its stdin, and on Linux a
parent-death signal); it is started again when it died, did not answer in time, or
the agent in its folder changed (see :func:`identity`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Optional, Sequence, Union

from chaosthundra.agents.profile import AgentProfile
from chaosthundra.cache import cache_base, keep_json

__all__ = [
    "HOST",
    "PROBE",
    "identity",
    "parse",
    "running_pid",
    "spare_pid",
    "start_spare",
    "warm_up",
    "stop_all",
]

PROBE = Path(__file__).resolve().parent / "parser_probe.py"
# This process's own interpreter (the real file, as chaosthundra.runtimes names them).
HOST = os.path.realpath(sys.executable)

# The folders put on a checker's path, in order: one folder, or several.
Folders = Union[str, Sequence[str]]

_PROCESSES: dict[tuple[str, str, tuple[str, ...]], _ParserProcess] = {}
_SPARES: dict[str, _ParserProcess] = {}  # one per interpreter, bound to no path yet
_LOCK = threading.Lock()


def _folders(path: Folders) -> tuple[str, ...]:
    return (str(path),) if isinstance(path, (str, os.PathLike)) else tuple(map(str, path))


def identity(agent: AgentProfile, path: Folders, python: str = HOST) -> list:
    """What tells one check's setting from another: the interpreter (its file's time stamp
    and size), the folders of the path, the ``thundra`` dist-info beside the agent and the
    time stamps and sizes of the agent package, its parser and the probe."""
    folders = _folders(path)
    root = next((Path(f) for f in folders if (Path(f) / agent.package).is_dir()), Path(folders[0]))
    parser = root / (agent.parser_module.replace(".", "/") + ".py")
    files = [PROBE, root / agent.package / "__init__.py", parser]
    try:
        dist_infos = sorted(
            n for n in os.listdir(root) if n.lower().startswith("thundra-") and "dist-info" in n
        )
    except OSError:
        dist_infos = []
    return [
        agent.name,
        [python, _stamp(Path(python))],
        list(folders),
        dist_infos,
        [_stamp(f) for f in files],
    ]


def _stamp(path: Path) -> Optional[list]:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size]


def parse(
    value: str,
    agent: AgentProfile,
    path: Folders,
    timeout: float,
    full: bool = False,
    python: str = HOST,
) -> dict:
    """What ``agent``'s parser, imported on ``python`` with the folders of ``path`` first on
    its path, builds from the listener variable ``value``: ``{"listeners", "errors",
    "version"}``. ActivityFailed when it cannot say.

    ``full`` imports the whole agent rather than its parser alone.
    """
    for attempt in (1, 2):
        process = _process(agent, _folders(path), python)
        try:
            described = process.ask(value, full, timeout)
        except _Died as died:
            message = process.failure(f"exit {died.returncode}")
            _forget(process)
            if attempt == 2 or not died.served_before:
                raise _failed(message) from None
        else:
            start_spare(python)
            return described
    raise AssertionError("unreachable")


def running_pid(agent: AgentProfile, path: Folders, python: str = HOST) -> Optional[int]:
    """The id of the checker process for ``agent`` on ``python`` with ``path``, if any."""
    process = _PROCESSES.get((agent.name, python, _folders(path)))
    return process.pid if process is not None and process.alive() else None


def spare_pid(python: str = HOST) -> Optional[int]:
    """The id of the spare checker process of ``python``, if one is waiting."""
    with _LOCK:
        spare = _SPARES.get(python)
        return spare.pid if spare is not None and spare.alive() else None


def start_spare(python: str = HOST) -> None:
    """Start a checker process on ``python`` bound to no path yet, unless one is waiting."""
    with _LOCK:
        dead = _SPARES.pop(python, None)
        if dead is not None and dead.alive():
            _SPARES[python] = dead
            return
        with contextlib.suppress(OSError):  # the check starts one and says why not
            _SPARES[python] = _ParserProcess(python, warm=True)
    if dead is not None:
        dead.close()


def warm_up() -> str:
    """Start a spare checker on the interpreter the last new checker ran on, unless one
    is waiting; returns that interpreter."""
    python = _last_python()
    start_spare(python)
    return python


def stop_all() -> None:
    """End every checker process, the spares too (also done at exit)."""
    with _LOCK:
        processes = list(_PROCESSES.values()) + list(_SPARES.values())
        _PROCESSES.clear()
        _SPARES.clear()
    for process in processes:
        process.close()


atexit.register(stop_all)


class _Died(Exception):
    def __init__(self, returncode: Optional[int], served_before: bool) -> None:
        super().__init__(returncode)
        self.returncode = returncode
        self.served_before = served_before


def _process(agent: AgentProfile, folders: tuple[str, ...], python: str) -> _ParserProcess:
    key = (agent.name, python, folders)
    now = identity(agent, folders, python)
    with _LOCK:
        process = _PROCESSES.get(key)
        if process is not None and (process.identity != now or not process.alive()):
            process.close()
            process = None
        if process is None:
            spare = _SPARES.get(python)
            if spare is not None and spare.alive() and not spare.warm & _provided_by(folders):
                del _SPARES[python]
                process = spare
            else:  # a dead spare goes in start_spare; one with a shadowed import waits
                try:
                    process = _ParserProcess(python)
                except OSError as error:
                    message = (
                        f"chaosthundra: could not start a checker process on {python}: {error}"
                    )
                    raise _failed(message) from error
            process.bind(agent, folders, now)
            _remember_python(python)
            _PROCESSES[key] = process
        return process


def _failed(message: str) -> Exception:
    """ActivityFailed(message); chaoslib is imported here, not with this module, so that
    importing this module stays light."""
    from chaoslib.exceptions import ActivityFailed

    return ActivityFailed(message)


def _provided_by(folders: tuple[str, ...]) -> set[str]:
    """The top-level names that modules in ``folders`` may have (a superset)."""
    names: set[str] = set()
    for folder in folders:
        with contextlib.suppress(OSError):
            names.update(entry.split(".", 1)[0] for entry in os.listdir(folder))
    return names


def _pythons_file() -> Path:
    return cache_base() / "checker-python.json"


def _last_python() -> str:
    """The interpreter the last new checker ran on, as its real file (this process's own
    when none, or when it is gone): the one a function's next check most likely needs."""
    try:
        python = json.loads(_pythons_file().read_text())
    except (OSError, ValueError):
        return HOST
    if not isinstance(python, str) or not os.path.isfile(python):
        return HOST
    return os.path.realpath(python)  # a venv's name, as written before checkers used none


def _remember_python(python: str) -> None:
    if _last_python() != python:
        keep_json(_pythons_file(), python)


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


def _forget(process: _ParserProcess) -> None:
    with _LOCK:
        if _PROCESSES.get(process.key) is process:
            del _PROCESSES[process.key]
    process.close()


class _ParserProcess:
    """One running checker process and the requests it answers, one at a time."""

    def __init__(self, python: str, warm: bool = False) -> None:
        """``warm``: a spare, which imports the standard-library modules checks need."""
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
        with contextlib.suppress(_Died):  # the first request finds it dead and says why
            self._send(setup)

    def _send(self, message: dict) -> None:
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        except OSError:
            raise _Died(self._proc.wait(), self.served > 0) from None

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
        raise _failed(self.failure(answer["failed"].strip().splitlines()[-1], answer))

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
                    _forget(self)
                    raise _failed(
                        f"chaosthundra: {self.what} did not answer within {timeout:g} s while "
                        "checking the listener config. Check that the agent imports quickly "
                        "where chaosthundra runs (python -c 'import thundra'), then run the "
                        "experiment again."
                    )
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise _Died(self._proc.wait(), self.served > 0)
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
