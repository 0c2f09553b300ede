"""Deployment packages built as ``sam build`` builds them, and the runtime's boto3.

A function's package is its CodeUri folder plus the distributions its
``requirements.txt`` lists, installed with ``pip install --target`` by the pip of the
function's Runtime's interpreter (as ``sam build`` uses that runtime's Python), so a
python3.9 function gets the wheels for 3.9. The installed dependencies are cached by
the hash of the requirements and the interpreter (two builds of 3.11 can resolve
differently), and so is the finished zip (by the hash of the code as well), under
``~/.cache/chaosthundra/packages`` (``CHAOSTHUNDRA_CACHE_DIR`` moves it). pip first
tries the cache's own wheelhouse with ``--no-index``; only what is missing there is
downloaded once (``pip wheel``), so a second build works offline.

The runtime's own boto3 is :func:`chaosthundra.runtimes.provided_packages`.

Differences from AWS: pip installs wheels for this machine's platform, not Lambda's
Amazon Linux; a Runtime with no interpreter here (python3.14 on a machine without it)
is built with the sandbox's own pip, as it is never run here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Iterable, Iterator, Optional

from chaosthundra import runtimes
from chaosthundra.cache import cache_dir

__all__ = [
    "PackageError",
    "cache_root",
    "install_requirements",
    "package_zip",
    "runtime_packages",
    "zip_tree",
]

logger = logging.getLogger("chaostoolkit")

REQUIREMENTS = "requirements.txt"
# Changes when the layout of a built dependency folder changes (invalidates the cache).
BUILD_FORMAT = b"2: unchecked-hash bytecode"
_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache", ".venv", ".aws-sam"}
PIP_TIMEOUT_S = 900
_lock = threading.Lock()


class PackageError(RuntimeError):
    """A package could not be built (pip failed); the message says why."""


def cache_root() -> Path:
    """Where built packages are kept between runs."""
    return cache_dir("packages")


def host_python() -> runtimes.Interpreter:
    """The sandbox's own interpreter (what builds when no other is named)."""
    return runtimes.Interpreter(Path(sys.executable), tuple(sys.version_info[:2]))


def _python_tag(python: runtimes.Interpreter) -> str:
    return "py{}{}".format(*python.version)


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:24]


def _pip(args: list[str], python: runtimes.Interpreter) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    return subprocess.run(
        [str(python.path), "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        env=env,
        check=False,
    )


@contextlib.contextmanager
def _building(root: Path) -> Iterator[None]:
    """One build at a time, across threads and processes sharing the cache."""
    root.mkdir(parents=True, exist_ok=True)
    with _lock, open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_requirements(
    requirements: str,
    root: Optional[Path] = None,
    python: Optional[runtimes.Interpreter] = None,
) -> Path:
    """The directory holding ``requirements`` installed with ``pip --target`` by
    ``python``'s pip (the sandbox's own by default), cached per Python version."""
    root = root or cache_root()
    python = python or host_python()
    # Keyed by the interpreter itself, not only its X.Y: markers such as redis's
    # ``python_full_version < "3.11.3"`` differ between two builds of one 3.11.
    identity = str(python.path.resolve()).encode()
    digest = _digest(BUILD_FORMAT, requirements.encode(), identity)
    target = root / "deps" / f"{_python_tag(python)}-{digest}"
    if target.is_dir():
        return target
    with _building(root):
        if target.is_dir():
            return target
        wheelhouse = root / "wheels"
        wheelhouse.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        spec = root / "deps" / f".{target.name}.txt"
        spec.write_text(requirements)
        staging = root / "deps" / f".{target.name}.staging"
        install = ["install", "--quiet", "--no-compile", "--target", str(staging)]  # see _compile
        install += ["--find-links", str(wheelhouse), "--requirement", str(spec)]
        _remove(staging)
        result = _pip([*install, "--no-index"], python)
        if result.returncode != 0:  # something is not in the wheelhouse yet: fetch it once
            logger.info("chaosthundra sandbox: downloading the wheels of %s", spec)
            # The wheels already there count: an sdist built once (opentracing) is not
            # built again by an interpreter whose pip cannot (3.9's has no `wheel`).
            fetch = ["wheel", "--quiet", "--wheel-dir", str(wheelhouse), "-r", str(spec)]
            fetch += ["--find-links", str(wheelhouse)]
            fetched = _pip(fetch, python)
            if fetched.returncode != 0:
                raise PackageError(
                    f"pip could not fetch the requirements {requirements.split()}: "
                    f"{fetched.stderr.strip()[-800:]}"
                )
            _remove(staging)
            result = _pip([*install, "--no-index"], python)
        if result.returncode != 0:
            raise PackageError(
                f"pip could not install the requirements {requirements.split()}: "
                f"{result.stderr.strip()[-800:]}"
            )
        # Byte-compiled once, as pip does for ``sam build``, but with pycs that hold a
        # hash instead of the source's mtime (unzipping does not keep mtimes), so every
        # cold start uses them. A module that does not compile is the package's business.
        runtimes.compile_for(staging, python.path, stamp=False)
        staging.rename(target)
    return target


def runtime_packages(root: Optional[Path] = None) -> Path:
    """The sandbox's own Python's runtime folder (boto3 and botocore, the versions beside
    the sandbox), cached: :func:`chaosthundra.runtimes.provided_packages`."""
    return runtimes.provided_packages(host_python(), root or cache_dir("runtimes"))


def zip_tree(*directories: Path, bytecode_from: Iterable[Path] = ()) -> bytes:
    """A deterministic zip of the folders' files merged (same files, same CodeSha256).

    A file in a later folder replaces the same path from an earlier one. Bytecode is
    left out, except from the folders in ``bytecode_from`` (built dependencies).
    """
    files: dict[str, Path] = {}
    keep = set(bytecode_from)
    for directory in directories:
        skip = _SKIP_DIRS - {"__pycache__"} if directory in keep else _SKIP_DIRS
        for base, dirs, names in os.walk(directory, followlinks=True):
            dirs[:] = [d for d in dirs if d not in skip]
            for name in names:
                if directory in keep or not name.endswith((".pyc", ".pyo")):
                    full = Path(base) / name
                    files[full.relative_to(directory).as_posix()] = full
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname in sorted(files):
            full = files[arcname]
            info = zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(full, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, full.read_bytes())
    return buffer.getvalue()


def package_zip(
    code_uri: Path, root: Optional[Path] = None, python: Optional[runtimes.Interpreter] = None
) -> bytes:
    """The deployment package of a CodeUri folder: its files plus its requirements,
    installed by ``python``'s pip (the sandbox's own by default).

    A folder without ``requirements.txt`` is zipped as it is.
    """
    requirements_file = code_uri / REQUIREMENTS
    if not requirements_file.is_file():
        return zip_tree(code_uri)
    root = root or cache_root()
    requirements = requirements_file.read_text()
    deps = install_requirements(requirements, root, python)
    code = zip_tree(code_uri)
    cached = root / "zips" / f"{deps.name}-{_digest(code)}.zip"
    if cached.is_file():
        return cached.read_bytes()
    data = zip_tree(deps, code_uri, bytecode_from=[deps])
    cached.parent.mkdir(parents=True, exist_ok=True)
    # A staging file of this call's own (two threads of one process used to share one
    # named by the pid), replacing the cached zip in one step.
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".part", delete=False) as part:
        part.write(data)
    os.replace(part.name, cached)
    return data


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
