"""Where the sandbox keeps what outlives one sandbox: built packages, unpacked code."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(part: str) -> Path:
    """``$CHAOSTHUNDRA_CACHE_DIR/<part>``, by default ``~/.cache/chaosthundra/<part>``."""
    configured = os.environ.get("CHAOSTHUNDRA_CACHE_DIR")
    base = Path(configured) if configured else Path.home() / ".cache" / "chaosthundra"
    return base / part
