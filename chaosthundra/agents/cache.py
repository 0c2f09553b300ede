"""chaosthundra's cache folder, and how its small JSON files are written."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["cache_base", "keep_json"]


def cache_base() -> Path:
    """chaosthundra's cache folder: ``CHAOSTHUNDRA_CACHE_DIR`` or ~/.cache/chaosthundra."""
    configured = os.environ.get("CHAOSTHUNDRA_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "chaosthundra"


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
