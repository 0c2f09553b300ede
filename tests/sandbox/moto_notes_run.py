"""Run the reproductions of docs/moto-notes.md against the installed moto.

    python tests/sandbox/moto_notes_run.py mock_aws|server [NOTES.md]

prints one JSON line per report: ``{"note", "outcome", "detail"}``, where outcome
is ``reproduces`` (its assert of Lambda's answer failed: moto still differs),
``fixed`` (moto answered as Lambda does) or ``broken`` (another error).
``server`` runs them over HTTP against a ``ThreadedMotoServer`` on 127.0.0.1
(moto's TEST_SERVER_MODE), ``mock_aws`` in process. Each run is its own process:
``mock_aws`` resets moto's process-global state.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path

NOTES = Path(__file__).resolve().parents[2] / "docs" / "moto-notes.md"
_BLOCK = re.compile(r"<!-- moto-note: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.S)


def blocks(text: str) -> dict[str, str]:
    """``{note name: code}`` of every marked block, the setup included."""
    return {m["name"]: m["code"] for m in _BLOCK.finditer(text)}


def run(mode: str, notes: Path) -> list[dict[str, str]]:
    found = blocks(notes.read_text())
    setup = found.pop("setup")
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_PAGER": ""}
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    if mode == "server":
        os.environ["TEST_SERVER_MODE"] = "true"  # read when moto is first imported
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        os.environ["TEST_SERVER_MODE_ENDPOINT"] = f"http://{host}:{port}"
    results = []
    for name, code in found.items():
        scope: dict[str, object] = {"__name__": f"moto_note_{name}"}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(setup + code, f"moto-note {name}", "exec"), scope)
        except AssertionError as error:
            results.append({"note": name, "outcome": "reproduces", "detail": str(error)})
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"
            results.append({"note": name, "outcome": "broken", "detail": detail})
        else:
            results.append({"note": name, "outcome": "fixed", "detail": ""})
    if mode == "server":
        server.stop()
    return results


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("mock_aws", "server"):
        sys.exit("usage: moto_notes_run.py mock_aws|server [NOTES.md]")
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else NOTES
    for result in run(sys.argv[1], path):
        print(json.dumps(result))
