"""The agent's parser in a checker process of its own, reused for every check.

One process per interpreter and path (:mod:`.probe_process`, kept here in a pool):
``<python> -I -S`` running :mod:`parser_probe` in an empty folder, so neither the
caller's working directory nor anything installed beside chaosthundra can shadow a
module. The interpreter is the one of the function's Runtime, and the path holds, in
Lambda's order, the agent's folder (the function's unpacked package, or the folder where
the agent is installed), the layers and the runtime's own boto3 and botocore (see
:mod:`chaosthundra.agents.check`). It imports the agent's parser afresh for every value,
so each check reads the variable at import as a function's agent does, while what the
parser imports (``redis`` for ``redis.ConnectionError``) stays loaded between checks.

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
import sys
import threading
from pathlib import Path
from typing import Optional, Sequence, Union

from chaosthundra.agents.probe_process import PROBE, Died, ParserProcess, failed
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

# This process's own interpreter (the real file, as chaosthundra.runtimes names them).
HOST = os.path.realpath(sys.executable)

# The folders put on a checker's path, in order: one folder, or several.
Folders = Union[str, Sequence[str]]

_PROCESSES: dict[tuple[str, str, tuple[str, ...]], ParserProcess] = {}
_SPARES: dict[str, ParserProcess] = {}  # one per interpreter, bound to no path yet
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
        except Died as died:
            message = process.failure(f"exit {died.returncode}")
            _forget(process)
            if attempt == 2 or not died.served_before:
                raise failed(message) from None
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
            _SPARES[python] = ParserProcess(python, _forget, warm=True)
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


def _process(agent: AgentProfile, folders: tuple[str, ...], python: str) -> ParserProcess:
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
                    process = ParserProcess(python, _forget)
                except OSError as error:
                    message = (
                        f"chaosthundra: could not start a checker process on {python}: {error}"
                    )
                    raise failed(message) from error
            process.bind(agent, folders, now)
            _remember_python(python)
            _PROCESSES[key] = process
        return process


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


def _forget(process: ParserProcess) -> None:
    with _LOCK:
        if _PROCESSES.get(process.key) is process:
            del _PROCESSES[process.key]
    process.close()
