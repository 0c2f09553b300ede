"""The agent check (``chaosthundra.agents.check``) of a listener config not seen before.

Every config carries a fresh error message, so no cache of verdicts can answer it.
Two figures: the first check in a fresh interpreter (what each ``chaos run`` pays
once; the import of chaosthundra is excluded) and later new configs in this process.
Both check for a function of the default runtime (functions/template.yaml's), on that
runtime's interpreter with its boto3, as an enable does.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid

from chaosthundra.agents import check as agent_check
from chaosthundra.listeners import encode, error_listener, span_filter

from .common import REPO, pct, row

__all__ = ["run"]

CHECKS = 10
GOAL_MS = 150.0
RUNTIME = "python3.11"  # the Runtime of functions/template.yaml

# warm_up: as a run's safeguard does before the experiment; here the check follows at
# once, so the checker's boot is not hidden behind the hypothesis (the worst case)
_FRESH = """\
import sys, time
from chaosthundra.agents import check as agent_check, parser_process
from chaosthundra.listeners import encode, error_listener, span_filter
parser_process.warm_up()
config = error_listener([span_filter(class_name="Redis")], "redis.ConnectionError", sys.argv[1])
started = time.perf_counter()
agent_check.check(config, encode(config), runtime=sys.argv[2])
print((time.perf_counter() - started) * 1000)
"""


def new_config() -> dict:
    """A listener config with an error message never used before."""
    message = f"bench {uuid.uuid4().hex}"
    return error_listener([span_filter(class_name="Redis")], "redis.ConnectionError", message)


def _check_ms() -> float:
    config = new_config()
    started = time.perf_counter()
    agent_check.check(config, encode(config), runtime=RUNTIME)
    return (time.perf_counter() - started) * 1000


def _fresh_process_ms() -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH, f"bench {uuid.uuid4().hex}", RUNTIME],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1])


def run() -> list[dict]:
    """The agent check rows, measured now."""
    first = statistics.median(_fresh_process_ms() for _ in range(3))
    later = [_check_ms() for _ in range(CHECKS)]
    p95 = pct(later, 95)
    return [
        row("agent check, new config: first in a fresh process (median of 3)", first, "ms"),
        row(
            f"agent check, new config: later ones in one process, p50 of {CHECKS}",
            pct(later, 50),
            "ms",
        ),
        row(
            f"agent check of a config not seen before: first in a process / p95 of {CHECKS} later",
            f"{first:.0f} / {p95:.0f}",
            "ms",
            f"<= {GOAL_MS:.0f} ms",
            max(first, p95) <= GOAL_MS,
            rank=3,
        ),
    ]
