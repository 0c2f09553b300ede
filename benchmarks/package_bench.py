"""Sandbox deployment packages: first build (wheels downloaded once), a build offline
from the cache's wheelhouse, and a cached build, for each CodeUri of functions/."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from chaosthundra.sandbox.packages import package_zip

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
CODE_URIS = {"thundra 2.x functions (src/)": "src", "Catchpoint functions": "catchpoint"}


def _timed(code_uri: Path, root: Path) -> float:
    started = time.perf_counter()
    package_zip(code_uri, root)
    return time.perf_counter() - started


def run() -> list[dict[str, Any]]:
    rows = []
    for title, folder in CODE_URIS.items():
        code_uri = FUNCTIONS / folder
        root = Path(tempfile.mkdtemp(prefix="chaosthundra-package-bench-"))
        try:
            first = _timed(code_uri, root)
            for built in ("deps", "zips"):  # keep only the wheelhouse: pip runs offline
                shutil.rmtree(root / built)
            offline = _timed(code_uri, root)
            cached = _timed(code_uri, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows += [
            {"name": f"package build, first ({title})", "value": round(first, 2), "unit": "s"},
            {
                "name": f"package build, offline from the wheelhouse ({title})",
                "value": round(offline, 2),
                "unit": "s",
            },
            {
                "name": f"package build, cached ({title})",
                "value": round(cached * 1000, 1),
                "unit": "ms",
                "goal": "< 1000 ms",
                "ok": cached < 1.0,
            },
        ]
    return rows
