"""Function code on disk: each deployment package unpacked once, keyed by CodeSha256.

Environments of the same code share one directory (their ``LAMBDA_TASK_ROOT``). As
on Lambda the directory is meant to be read-only; unlike Lambda nothing enforces it.
"""

from __future__ import annotations

import base64
import binascii
import io
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Callable

from .errors import ApiError

__all__ = ["CodeCache"]


class CodeCache:
    """Unpacks deployment packages under ``root``, at most once per CodeSha256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @staticmethod
    def _dirname(code_sha256: str) -> str:
        try:
            return base64.b64decode(code_sha256, validate=True).hex()
        except (binascii.Error, ValueError):
            return code_sha256.replace("/", "_").replace("+", "-").rstrip("=")

    def task_root(self, code_sha256: str, load: Callable[[], bytes]) -> Path:
        """The directory holding the unpacked code; ``load`` gives the zip if needed."""
        target = self.root / self._dirname(code_sha256)
        if target.is_dir():
            return target
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
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".unpack-"))
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    archive.extractall(staging)
                staging.rename(target)
            except (zipfile.BadZipFile, OSError) as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise ApiError(
                    502, "InvalidZipFileException", f"Could not unzip uploaded file: {exc}"
                ) from exc
        return target
