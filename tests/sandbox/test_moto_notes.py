"""docs/moto-notes.md: every report still reproduces on the installed moto.

A report that stops reproducing means moto now answers as Lambda does: the note and
the sandbox's workaround it names can go. The reproductions run over HTTP against a
moto server in a child process (``mock_aws`` resets moto's process-global state,
which this process's sandbox shares).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from moto_notes_run import NOTES, blocks

RUNNER = Path(__file__).with_name("moto_notes_run.py")


def test_every_note_has_a_reproduction() -> None:
    """Each report has its block, except a request marked "(enhancement, no bug)"."""
    names = set(blocks(NOTES.read_text())) - {"setup"}
    reports = [
        line
        for line in NOTES.read_text().splitlines()
        if line.startswith("## ") and "no bug" not in line
    ]
    assert names and len(names) == len(reports), (sorted(names), reports)


def test_every_note_reproduces_on_moto_server() -> None:
    done = subprocess.run(
        [sys.executable, str(RUNNER), "server"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["note"] for r in results} == set(blocks(NOTES.read_text())) - {"setup"}
    wrong = [
        f"moto-note {r['note']}: {r['outcome']}"
        + (
            " (moto now answers as Lambda: remove the note and its workaround)"
            if r["outcome"] == "fixed"
            else f": {r['detail']}"
        )
        for r in results
        if r["outcome"] != "reproduces"
    ]
    assert not wrong, "\n".join(wrong)
