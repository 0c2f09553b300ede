"""`chaosthundra gameday PLAN [--report DIR]`: progress, outcome table, exit code.

Exit codes: 0 every outcome matched, 1 at least one did not, 2 usage error.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from chaosthundra.gameday.plan import PlanError, load_plan
from chaosthundra.gameday.report import write_report
from chaosthundra.gameday.runner import RunResult, run_plan

__all__ = ["run_gameday", "format_table"]

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2
_OUTCOME_WORDS = {"deviated": "weakness found", "held": "held"}


def run_gameday(plan_path: str, report_dir: str, out: TextIO = sys.stdout) -> int:
    """Run the plan, print progress and the table, write the report; return the exit code."""
    try:
        plan = load_plan(plan_path)
    except PlanError as error:
        print(f"chaosthundra gameday: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = Path(report_dir)
    _quiet_chaostoolkit_console()
    total = len(plan.runs)
    print(f"Gameday: {plan.title} ({total} run(s)), report in {report}/", file=out, flush=True)
    started = time.monotonic()

    def on_start(index: int, planned) -> None:
        print(f"[{index}/{total}] {planned.name} ... ", end="", file=out, flush=True)

    def on_done(result: RunResult) -> None:
        mark = "as expected" if result.matched else f"EXPECTED {result.planned.expect.upper()}"
        print(f"{result.outcome} ({mark}) in {result.duration_s:.1f} s", file=out, flush=True)
        if result.reason:
            print(f"    {result.reason}", file=out, flush=True)

    results = run_plan(plan, report, on_start=on_start, on_done=on_done)
    html = write_report(plan, results, report / "report.html")
    print("", file=out)
    print(format_table(results), file=out)
    matched = sum(r.matched for r in results)
    not_run = total - len(results)
    print(
        f"\n{matched}/{total} matched expectations"
        + (f", {not_run} not run" if not_run else "")
        + f"; total {time.monotonic() - started:.1f} s. Journals: {report / 'journals'}/, "
        f"report: {html}",
        file=out,
    )
    return EXIT_OK if matched == total else EXIT_MISMATCH


def format_table(results: list[RunResult]) -> str:
    """A plain-text table of outcome versus expectation, mismatches marked."""
    header = ["#", "experiment", "function", "before", "after", "outcome", "expected", "", "time"]
    rows = [header]
    for r in results:
        rows.append(
            [
                str(r.index),
                r.planned.experiment.stem,
                str(r.planned.vars.get("function_name", "-")),
                _met(r.steady_state("before")),
                _met(r.steady_state("after")),
                _OUTCOME_WORDS.get(r.outcome, r.outcome),
                _OUTCOME_WORDS.get(r.planned.expect, r.planned.expect),
                "ok" if r.matched else "<< MISMATCH",
                f"{r.duration_s:.1f} s",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _met(value) -> str:
    return "-" if value is None else ("met" if value else "not met")


def _quiet_chaostoolkit_console() -> None:
    """Keep chaoslib's chatter out of the progress lines: each run's log file has all of it."""
    logger = logging.getLogger("chaostoolkit")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(logging.CRITICAL + 1)
