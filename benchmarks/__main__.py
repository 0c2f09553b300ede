"""`make bench`: every benchmark, measured side by side in one run, printed as one table
and recorded in BENCHMARKS.md with the date and the machine.

    python -m benchmarks [--no-test-suite] [--output BENCHMARKS.md]

The goals of issue 13 come first, each with its figure and "met" or "NOT met";
every other figure follows. The peer, python-lambda-local, comes with the ``bench``
extra (``pip install -e '.[dev,bench]'``, which ``make bench`` does).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import (
    agent_check_bench,
    injection_bench,
    package_bench,
    peer_bench,
    realistic_bench,
    sandbox_bench,
)
from benchmarks.common import BENCH_TEMPLATE, REPO, open_sandbox, row

TEST_SUITE_GOAL_S = 300


def _realistic() -> list[dict]:
    """Everything that runs on the realistic function's sandbox, in one sandbox."""
    with open_sandbox(BENCH_TEMPLATE) as box:
        rows, cold_ms = realistic_bench.cold_start(box)
        rows += realistic_bench.time_to_effect(box.configuration())
        rows += peer_bench.run(box, cold_ms)
        rows += injection_bench.run(box)
    return rows


def _test_suite_row() -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        # The command of `make test`, quieter.
        [sys.executable, "-m", "pytest", "-n", "auto", "--dist", "worksteal", "-q", "-rf"]
        + ["-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines() or ["?"]
    summary = lines[-1].strip("= ")
    failed = [
        line.split(" - ")[0].removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")
    ]
    if failed:
        summary += "; failed: " + ", ".join(failed)
    if proc.returncode != 0:
        kept = REPO / "reports" / "bench-test-suite.txt"
        kept.parent.mkdir(exist_ok=True)
        kept.write_text(proc.stdout + proc.stderr, encoding="utf-8")
        summary += f"; output in {kept.relative_to(REPO)}"
    return row(
        f"make test on {os.cpu_count()} cores ({summary})",
        elapsed,
        "s",
        f"<= {TEST_SUITE_GOAL_S} s",
        proc.returncode == 0 and elapsed <= TEST_SUITE_GOAL_S,
        rank=7,
    )


def _peer_version() -> str:
    from importlib.metadata import version

    return version("python-lambda-local")


def _machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min)"


def _table(rows: list[dict]) -> list[str]:
    header = ["benchmark", "value", "unit", "goal", "met"]
    cells = [
        ["" if r.get(key) is None else str(r[key]) for key in ("name", "value", "unit", "goal")]
        + ["" if r.get("ok") is None else ("met" if r["ok"] else "NOT met")]
        for r in rows
    ]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(c) + " |" for c in cells
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-test-suite", action="store_true", help="skip timing the tests")
    parser.add_argument("--output", default=str(REPO / "BENCHMARKS.md"))
    args = parser.parse_args()

    started = time.perf_counter()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = _load()
    rows = []
    for title, bench in (
        ("package", package_bench.run),
        ("sandbox", sandbox_bench.run),
        ("realistic function, peer and injection", _realistic),
        ("update-delay", realistic_bench.delayed_time_to_effect),
        ("agent check", agent_check_bench.run),
        ("chaos run", injection_bench.chaos_runs),
    ):
        print(f"running the {title} benchmarks ...", file=sys.stderr, flush=True)
        phase = time.perf_counter()
        rows += bench()
        print(f"  {time.perf_counter() - phase:.0f} s", file=sys.stderr, flush=True)
    if not args.no_test_suite:
        print("timing the full test suite ...", file=sys.stderr, flush=True)
        rows.append(_test_suite_row())
    goals = sorted((r for r in rows if r.get("rank") is not None), key=lambda r: r["rank"])
    details = [r for r in rows if r.get("rank") is None]
    text = (
        "## Goals (issue 13)\n\n"
        + "\n".join(_table(goals))
        + "\n\n## Every figure\n\n"
        + "\n".join(_table(details))
        + "\n"
    )
    print(text)

    Path(args.output).write_text(
        "# Benchmarks\n\n"
        f"Measured by `make bench` from {when}, on {_machine()}, in "
        f"{time.perf_counter() - started:.0f} s; {load_before} at the start, "
        f"{_load()} at the end. Every figure below comes from that one run; "
        "rerun `make bench` to refresh it. The sandbox runs in the benchmark's own process, "
        "as it does under `chaos run`; its update delay is 0 except in the row that says "
        "otherwise. The realistic function is `benchmarks/bench_function/` (boto3, the "
        "Thundra agent, a Redis GET and a DynamoDB update); the peer is "
        f"python-lambda-local {_peer_version()}, running the same handler: its cold invoke "
        "is one `python-lambda-local` command from spawn to its RESULT line, its warm invoke "
        "a `lambda_local.main.call` of the handler already imported (it forks per call); "
        "what each enforces was found by trying it (benchmarks/peer_bench.py).\n\n" + text,
        encoding="utf-8",
    )
    print(f"\nrecorded in {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
