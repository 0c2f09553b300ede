"""The Python runtimes of one sandbox: for each ``python3.X`` Runtime, the interpreter
that runs it, the folder the runtime provides (boto3, botocore) and the worker script
compiled for that interpreter.

The interpreter is found by :func:`chaosthundra.runtimes.interpreter` (the sandbox's
``pythons`` mapping, ``CHAOSTHUNDRA_PYTHONS``, ``PATH``, pyenv, uv), once per Runtime
and sandbox. A Runtime without one here, and any non-Python Runtime, has no
:class:`PythonRuntime`: its functions are deployed but never run (see :mod:`.invoke`).

Differences from AWS: every runtime's boto3 is the version installed beside the sandbox
(:func:`chaosthundra.runtimes.provided_packages`), not the one Lambda pins; the
interpreter is this machine's CPython, not Amazon Linux's build of it.
"""

from __future__ import annotations

import py_compile
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from chaosthundra import runtimes
from chaosthundra.cache import cache_dir

from .errors import ApiError

__all__ = ["PythonRuntime", "Pythons", "unavailable_error"]


@dataclass(frozen=True)
class PythonRuntime:
    """One ``python3.X`` Runtime as this sandbox runs it."""

    name: str
    python: Path
    version: tuple[int, int]
    provided: Path  # the runtime's own folder (``/var/runtime``): boto3, botocore
    program: Path  # the worker, compiled for ``python``

    @property
    def tag(self) -> str:
        """``py312``: the key of what is built for this Python."""
        return f"py{self.version[0]}{self.version[1]}"


def unavailable_error(runtime: str) -> ApiError:
    """The answer to an invoke of a function that this sandbox cannot run: Lambda's
    own ``InvalidRuntimeException`` (HTTP 502, "The runtime or runtime version
    specified is not supported"), with what to do instead.

    An HTTP error rather than a FunctionError payload: nothing ran, and a probe must
    not take the answer for the function's own failure (or for an injected fault).
    """
    return ApiError(502, "InvalidRuntimeException", runtimes.missing_interpreter_message(runtime))


class Pythons:
    """The interpreters of a sandbox, found and prepared once per Runtime.

    ``mapping``: explicit ``{"python3.12": "/path/to/python3.12"}`` choices (they come
    before ``CHAOSTHUNDRA_PYTHONS`` and any search). ``programs``: the folder that gets
    a compiled worker per interpreter (None: run the worker from its source).
    """

    def __init__(
        self,
        mapping: Optional[Mapping[str, str]] = None,
        programs: Optional[Path] = None,
        source: Optional[Path] = None,
    ) -> None:
        self.mapping = dict(mapping or {})
        self.programs = programs
        self.source = source
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._found: dict[str, Optional[runtimes.Interpreter]] = {}
        self._ready: dict[str, PythonRuntime] = {}

    def interpreter(self, runtime: str) -> Optional[runtimes.Interpreter]:
        """The interpreter of ``runtime`` here, or None (not Python, or none found)."""
        with self._lock:
            if runtime in self._found:
                return self._found[runtime]
        found = runtimes.interpreter(runtime, self.mapping) if runtimes.is_python(runtime) else None
        with self._lock:
            return self._found.setdefault(runtime, found)

    def runs(self, runtime: str) -> bool:
        return self.interpreter(runtime) is not None

    def get(self, runtime: str) -> PythonRuntime:
        """``runtime`` ready to run (its provided folder built and compiled, its worker
        compiled: once, the first time); :func:`unavailable_error` when it cannot be."""
        ready = self._ready.get(runtime)
        if ready is not None:
            return ready
        found = self.interpreter(runtime)
        if found is None:
            raise unavailable_error(runtime)
        with self._lock:
            lock = self._locks.setdefault(runtime, threading.Lock())
        with lock:
            ready = self._ready.get(runtime)
            if ready is None:
                ready = self._prepare(runtime, found)
                self._ready[runtime] = ready
        return ready

    def _prepare(self, runtime: str, found: runtimes.Interpreter) -> PythonRuntime:
        try:
            provided = runtimes.provided_packages(found, cache_dir("runtimes"))
        except RuntimeError as exc:
            raise ApiError(500, "ServiceException", f"Runtime '{runtime}': {exc}") from None
        runtimes.compile_for(provided, found.path)
        program = self._compile_worker(found)
        return PythonRuntime(runtime, found.path, found.version, provided, program)

    def _compile_worker(self, found: runtimes.Interpreter) -> Path:
        """The worker byte-compiled by ``found`` (a script run from source is compiled at
        every start, a ``.pyc`` is not: a millisecond per cold start); its source when
        that fails or no folder was given."""
        assert self.source is not None
        if self.programs is None:
            return self.source
        folder = self.programs / f"py{found.version[0]}{found.version[1]}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "worker.pyc"
        if found.version == tuple(sys.version_info[:2]):  # the same bytecode: no process
            try:
                py_compile.compile(str(self.source), cfile=str(target), doraise=True)
            except (OSError, py_compile.PyCompileError):
                return self.source
            return target
        compiled = subprocess.run(
            [
                str(found.path),
                "-I",
                "-S",
                "-c",
                "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], "
                "doraise=True)",
                str(self.source),
                str(target),
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return target if compiled.returncode == 0 else self.source
