"""`make bench`: every benchmark, measured side by side in one run, printed as one table
and recorded in BENCHMARKS.md with the date and the machine.

    python -m benchmarks [--no-test-suite] [--output BENCHMARKS.md]
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

from benchmarks import injection_bench, package_bench, sandbox_bench

REPO = Path(__file__).resolve().parents[1]


def _test_suite_row() -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    summary = (proc.stdout.strip().splitlines() or ["?"])[-1].strip("= ")
    return {
        "name": f"full test suite (make test): {summary}",
        "value": f"{elapsed:.1f}",
        "unit": "s",
        "goal": "well under 600 s",
        "ok": proc.returncode == 0 and elapsed < 600,
    }


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


def _table(rows: list[dict]) -> list[str]:
    header = ["benchmark", "value", "unit", "goal", "met"]
    cells = [
        ["" if r.get(key) is None else str(r[key]) for key in ("name", "value", "unit", "goal")]
        + ["" if r.get("ok") is None else ("yes" if r["ok"] else "NO")]
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
    rows = []
    for title, bench in (
        ("package", package_bench.run),
        ("sandbox", sandbox_bench.run),
        ("injection", injection_bench.run),
    ):
        print(f"running the {title} benchmarks ...", file=sys.stderr, flush=True)
        rows += bench()
    if not args.no_test_suite:
        print("timing the full test suite ...", file=sys.stderr, flush=True)
        rows.append(_test_suite_row())
    table = _table(rows)
    print("\n".join(table))

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    Path(args.output).write_text(
        "# Benchmarks\n\n"
        f"Measured by `make bench` on {when}, on {_machine()}, in "
        f"{time.perf_counter() - started:.0f} s. Every figure below comes from that one run; "
        "rerun `make bench` to refresh it. The sandbox runs in the benchmark's own process, "
        "as it does under `chaos run`.\n\n" + "\n".join(table) + "\n",
        encoding="utf-8",
    )
    print(f"\nrecorded in {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
