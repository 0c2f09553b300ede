"""chaosthundra's cache folder, how its small JSON files are written, and deployment
packages unpacked once by CodeSha256: one leaf that the agents and the sandbox share."""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

__all__ = ["cache_base", "cache_dir", "code_dirname", "keep_json", "unzip_once"]


def cache_base() -> Path:
    """chaosthundra's cache folder: ``CHAOSTHUNDRA_CACHE_DIR`` or ~/.cache/chaosthundra."""
    configured = os.environ.get("CHAOSTHUNDRA_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "chaosthundra"


def cache_dir(part: str) -> Path:
    """``$CHAOSTHUNDRA_CACHE_DIR/<part>``, by default ``~/.cache/chaosthundra/<part>``."""
    return cache_base() / part


def keep_json(target: Path, data: object) -> None:
    """Write ``data`` as JSON to ``target`` atomically; a cache that cannot be written is
    only slower, so an OSError is ignored."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=target.parent, prefix=f".{target.stem}-", delete=False
        ) as staging:
            json.dump(data, staging)
        os.replace(staging.name, target)
    except OSError:
        pass


def code_dirname(code_sha256: str) -> str:
    """The directory name of a package by its CodeSha256: the digest in hex (base64 as
    Lambda gives it), or the value made safe for a file name."""
    try:
        return base64.b64decode(code_sha256, validate=True).hex()
    except (binascii.Error, ValueError):
        return re.sub(r"[^A-Za-z0-9]", "_", code_sha256) or "unknown"


def unzip_once(root: Path, name: str, data: bytes) -> Path:
    """``root/name`` holding the zip ``data`` unpacked, unless it is there already.

    Unpacked in a staging directory of its own, then renamed into place in one step, so
    no reader sees half a package. zipfile.BadZipFile or OSError when it cannot be
    unpacked (unless another process unpacked it meanwhile)."""
    target = root / name
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(staging)
        staging.rename(target)
    except (zipfile.BadZipFile, OSError):
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():  # another process unpacked it meanwhile
            return target
        raise
    return target
