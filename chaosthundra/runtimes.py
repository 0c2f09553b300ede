"""Lambda's Python runtimes as this machine can model them: the interpreter of each
``python3.X`` Runtime, and the packages the runtime itself provides (boto3, botocore).

A leaf module: it imports nothing else of chaosthundra, so the agent check and the
sandbox share one answer to "which Python runs this function, and what does it see".

An interpreter for ``python3.X`` is looked up, first found wins, in:

1. an explicit mapping: the ``mapping`` argument (``sandbox up --python``), then
   ``CHAOSTHUNDRA_PYTHONS`` (``python3.12=/opt/py312/bin/python3,python3.13=...``);
2. ``python3.X`` on ``PATH`` (a pyenv shim there counts as pyenv's, step 3);
3. pyenv (``$PYENV_ROOT`` or ``~/.pyenv``: ``versions/3.X.*/bin/python3.X``) and uv
   (``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python``: ``cpython-3.X.*``).

Every candidate is run once to confirm its ``sys.version_info`` (a pyenv shim for a
version that is not selected answers an error, not Python); the answer is the real
executable behind it, so a worker does not pay for a shim at every cold start.

The runtime's own directory (``/var/runtime`` on Lambda) is modelled by
:func:`provided_packages`: boto3 and botocore at the versions installed beside
chaosthundra, resolved by pip for that runtime's Python, in a folder of their own, so
a function or a check sees them and nothing else that is installed here.

Differences from AWS: Lambda pins its own boto3 per runtime and updates it over time;
here every runtime gets the boto3 installed beside chaosthundra.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Mapping, Optional

__all__ = [
    "ENV_VARIABLE",
    "PROVIDED_PINS",
    "SUPPORTED",
    "Interpreter",
    "interpreter",
    "is_python",
    "missing_interpreter_message",
    "parse_mapping",
    "compile_for",
    "provided_packages",
    "version_of",
]

# The Python runtimes Lambda lists as supported (2026-12), oldest first.
SUPPORTED: tuple[str, ...] = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
)
ENV_VARIABLE = "CHAOSTHUNDRA_PYTHONS"
# What every Python runtime provides beside the interpreter's standard library.
PROVIDED_PINS: tuple[str, ...] = ("boto3", "botocore")

_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_PROBE = "import sys; print(sys.version_info[0], sys.version_info[1], sys.executable)"


class Interpreter(tuple):
    """``(path, (major, minor))`` of one confirmed interpreter."""

    __slots__ = ()

    def __new__(cls, path: Path, version: tuple[int, int]) -> Interpreter:
        return super().__new__(cls, (path, version))

    @property
    def path(self) -> Path:
        return self[0]

    @property
    def version(self) -> tuple[int, int]:
        return self[1]


def version_of(runtime: str) -> Optional[tuple[int, int]]:
    """``(3, 12)`` for ``python3.12``; None for a Runtime that is not CPython's."""
    match = _RUNTIME.match(runtime or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_python(runtime: str) -> bool:
    return version_of(runtime) is not None


def parse_mapping(text: str) -> dict[str, str]:
    """``python3.12=/p/python3,python3.13=/q/python3`` as a dict; ValueError naming the
    entry that is not of that form."""
    mapping: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in (text or "").split(","))):
        runtime, sep, path = entry.partition("=")
        if not sep or version_of(runtime.strip()) is None or not path.strip():
            raise ValueError(
                f"{entry!r} is not of the form python3.X=/path/to/python "
                f"(in {ENV_VARIABLE} or --python)"
            )
        mapping[runtime.strip()] = path.strip()
    return mapping


def interpreter(runtime: str, mapping: Optional[Mapping[str, str]] = None) -> Optional[Interpreter]:
    """The confirmed interpreter for ``runtime`` on this machine, or None."""
    wanted = version_of(runtime)
    if wanted is None:
        return None
    explicit = dict(parse_mapping(os.environ.get(ENV_VARIABLE, "")))
    explicit.update(mapping or {})
    if runtime in explicit:  # an explicit choice that does not work is not replaced
        return _confirm(explicit[runtime], wanted)
    for candidate in _candidates(*wanted):
        found = _confirm(candidate, wanted)
        if found is not None:
            return found
    return None


def missing_interpreter_message(runtime: str) -> str:
    """What to do when ``runtime`` has no interpreter here (or is not Python at all)."""
    if not is_python(runtime):
        return (
            f"Runtime '{runtime}' is not a Python runtime; the chaosthundra sandbox runs "
            "only python3.X functions. Deploy it to AWS to invoke it."
        )
    major, minor = version_of(runtime)  # type: ignore[misc]
    return (
        f"no Python {major}.{minor} interpreter was found on this machine for Runtime "
        f"'{runtime}'. Install one (pyenv install {major}.{minor}, or uv python install "
        f"{major}.{minor}), put python{major}.{minor} on PATH, or name it with "
        f"{ENV_VARIABLE}={runtime}=/path/to/python{major}.{minor} "
        f"(chaosthundra sandbox up --python {runtime}=/path/to/python{major}.{minor})."
    )


def _candidates(major: int, minor: int) -> list[str]:
    name = f"python{major}.{minor}"
    found: list[str] = []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    on_path = shutil.which(name)
    # A pyenv shim is pyenv's: its versions are searched next, without the shim's
    # half second of bash per lookup.
    if on_path and Path(on_path).parent != pyenv / "shims":
        found.append(on_path)
    found += sorted(
        glob.glob(str(pyenv / "versions" / f"{major}.{minor}.*" / "bin" / name)),
        key=_newest_first,
    )
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python")
    found += sorted(
        glob.glob(str(uv / f"cpython-{major}.{minor}.*" / "bin" / name)), key=_newest_first
    )
    return found


def _newest_first(path: str) -> list[int]:
    numbers = re.findall(r"\d+", path.replace("python", ""))
    return [-int(n) for n in numbers]


@functools.cache
def _confirm(candidate: str, wanted: tuple[int, int]) -> Optional[Interpreter]:
    """Run ``candidate`` once; its real executable if it is CPython ``wanted`` (this
    interpreter itself is known without running it)."""
    this = Path(sys.executable).resolve()
    if tuple(sys.version_info[:2]) == wanted and Path(candidate).resolve() == this:
        return Interpreter(this, wanted)
    try:
        answer = subprocess.run(
            [candidate, "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = answer.stdout.split(maxsplit=2)
    if answer.returncode != 0 or len(parts) != 3:
        return None
    if (int(parts[0]), int(parts[1])) != wanted:
        return None
    real = Path(parts[2].strip())
    return Interpreter(real if real.is_file() else Path(candidate), wanted)


def provided_packages(python: Interpreter, cache: Path) -> Path:
    """The runtime's own directory for ``python``: boto3 and botocore at the versions
    installed beside chaosthundra, with the dependencies that interpreter's pip resolves
    (python3.9 gets urllib3 1.x, as Lambda's does), kept in ``cache``.

    Built once per Python version and pins (the first build downloads the wheels), with
    the interpreter's own pip: pip's ``--python-version`` does not apply to environment
    markers, so the host's pip is used only where that interpreter has none.
    RuntimeError naming pip's complaint when it cannot be built.
    """
    version = python.version
    pins = [f"{name}=={_installed(name)}" for name in PROVIDED_PINS]
    # The interpreter is part of the key: markers can name a patch version.
    key = hashlib.sha256(" ".join([*pins, str(python.path.resolve())]).encode()).hexdigest()[:12]
    target = cache / "runtime-packages" / f"py{version[0]}{version[1]}-{key}"
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        # The versions beside chaosthundra; a Python they no longer support (boto3
        # 1.44 left 3.9) gets the newest release that still supports it, as Lambda's
        # older runtimes keep an older boto3.
        for wanted in (pins, [p.replace("==", "<=") for p in pins]):
            result = _pip_target(staging, python, wanted)
            if result.returncode == 0:
                break
        else:
            raise RuntimeError(
                f"pip could not build what the python{version[0]}.{version[1]} runtime "
                f"provides ({' '.join(pins)}): {result.stderr.strip()[-600:]}"
            )
        (staging / ".complete").write_text(" ".join(pins))
        with contextlib.suppress(OSError):  # another process finished first: same content
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _pip_target(
    target: Path, python: Interpreter, requirements: list[str]
) -> subprocess.CompletedProcess:
    shutil.rmtree(target, ignore_errors=True)
    own_pip = subprocess.run(
        [str(python.path), "-m", "pip", "--version"], capture_output=True, check=False
    )
    pip, extra = [str(python.path), "-m", "pip"], []
    if own_pip.returncode != 0:
        pip, extra = (
            [sys.executable, "-m", "pip"],
            ["--python-version", "{}.{}".format(*python.version)],
        )
    return subprocess.run(
        [
            *pip,
            "install",
            *extra,
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(target),
            "--only-binary=:all:",
            *requirements,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
    )


def _installed(name: str) -> str:
    try:
        return distribution(name).version
    except PackageNotFoundError as missing:
        raise RuntimeError(f"{name} is not installed beside chaosthundra") from missing


def compile_for(folder: Path, python: Path, stamp: bool = True) -> None:
    """Byte-compile ``folder`` with ``python`` (hash-based pycs: copies keep no mtimes),
    once per folder and interpreter version (``stamp``: a marker file in ``folder``
    remembers it; without, the caller does); a failure only costs speed."""
    marker = folder / f".compiled-{hashlib.sha256(str(python).encode()).hexdigest()[:12]}"
    if stamp and marker.is_file():
        return
    result = subprocess.run(
        [
            str(python),
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            str(folder),
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    if stamp and result.returncode == 0:
        marker.write_text(str(python))
