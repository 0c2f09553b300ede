"""Function code on disk: each deployment package unpacked once, keyed by CodeSha256.

Environments of the same code share one directory (their ``LAMBDA_TASK_ROOT``). The
directories are kept between sandboxes (``~/.cache/chaosthundra/code``, moved by
``CHAOSTHUNDRA_CACHE_DIR``), so a package already unpacked by an earlier run is not
unpacked again; one not used for :data:`KEEP_DAYS` days is removed.

The cache is shared by every sandbox (and test worker) of the user, so it trusts only
content: a directory is named by the SHA-256 of the zip it was unpacked from, computed
here (a package whose bytes do not match the CodeSha256 it came with goes under its
own digest, never over another's), unpacked in a staging directory of its own and
renamed into place in one step, so no reader sees half a package; a stale directory
is renamed away before it is removed.

Differences from AWS: as on Lambda the directory is meant to be read-only; unlike
Lambda nothing enforces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path
from typing import Callable, Optional

from chaosthundra.cache import cache_dir, code_dirname, unzip_once

from .errors import ApiError

__all__ = ["CodeCache"]


KEEP_DAYS = 14


def default_root() -> Path:
    """Where unpacked code is kept between sandboxes."""
    return cache_dir("code")


class CodeCache:
    """Unpacks deployment packages under ``root``, at most once per CodeSha256."""

    def __init__(self, root: Optional[Path] = None) -> None:
        self.root = root if root is not None else default_root()
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._used: set[Path] = set()
        self._prune()

    def _prune(self) -> None:
        """Remove what no sandbox used for :data:`KEEP_DAYS` days (and failed unpacks)."""
        cutoff = time.time() - KEEP_DAYS * 86400
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return
        for entry in entries:
            try:
                stale = entry.stat().st_mtime < cutoff
            except OSError:
                continue
            if stale:  # out of the way in one step, then removed: never half a package
                trash = self.root / f".stale-{os.getpid()}-{entry.name}"
                with contextlib.suppress(OSError):
                    entry.rename(trash)
                    shutil.rmtree(trash, ignore_errors=True)

    def _touch(self, target: Path) -> Path:
        if target not in self._used:
            self._used.add(target)
            with contextlib.suppress(OSError):
                os.utime(target)
        return target

    def task_root(self, code_sha256: str, load: Callable[[], bytes]) -> Path:
        """The directory holding the unpacked code; ``load`` gives the zip if needed."""
        target = self.root / code_dirname(code_sha256)
        if target.is_dir():
            return self._touch(target)
        with self._lock:
            lock = self._locks.setdefault(code_sha256, threading.Lock())
        with lock:
            if target.is_dir():
                return target
            data = load()
            if not data:
                raise ApiError(
                    400,
                    "InvalidParameterValueException",
                    "The sandbox runs only functions deployed as a zip archive.",
                )
            actual = hashlib.sha256(data).hexdigest()
            if actual != target.name:  # not the package its CodeSha256 names: key it by its own
                target = self.root / actual
                if target.is_dir():
                    return self._touch(target)
            try:
                target = unzip_once(self.root, target.name, data)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ApiError(
                    502, "InvalidZipFileException", f"Could not unzip uploaded file: {exc}"
                ) from exc
        return self._touch(target)
