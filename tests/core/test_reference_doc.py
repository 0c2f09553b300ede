"""docs/reference.md is what `chaos discover chaosthundra` shows, rendered: regenerate it
with `python -m benchmarks.reference > docs/reference.md` when an activity changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.reference import render

REPO = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))


def test_reference_doc_is_what_chaos_discover_shows(tmp_path):
    discovery = tmp_path / "discovery.json"
    result = subprocess.run(
        [CHAOS, "--no-log-file", "discover", "chaosthundra", "--no-system-info"]
        + ["--no-install", "--discovery-path", str(discovery)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    activities = json.loads(discovery.read_text())["activities"]
    assert {"enable_error_injection", "measure_load"} <= {a["name"] for a in activities}
    committed = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render(activities), (
        "docs/reference.md is out of date: python -m benchmarks.reference > docs/reference.md"
    )
    for activity in activities:  # every argument has its line
        for argument in activity["arguments"]:
            if argument["name"] not in ("configuration", "secrets"):
                assert f"- `{argument['name']}` (" in committed
