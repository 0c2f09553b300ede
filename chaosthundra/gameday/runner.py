"""Run a gameday plan through Chaos Toolkit's own Python API, one run after another.

Every run gets the safeguard control (as a global control), so whatever way a
run ends, its injections are removed before the next run starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from chaoslib.control import load_global_controls
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.loader import load_experiment

from chaosthundra.engine import owners
from chaosthundra.gameday.plan import Plan, PlannedRun

__all__ = ["RunResult", "run_plan", "outcome_of", "SAFEGUARD_SETTINGS"]

logger = logging.getLogger("chaostoolkit")

SAFEGUARD_SETTINGS = {
    "controls": {
        "chaosthundra-safeguard": {
            "provider": {"type": "python", "module": "chaosthundra.controls.safeguard"}
        }
    }
}


@dataclass
class RunResult:
    index: int
    planned: PlannedRun
    outcome: str  # held, deviated, failed, interrupted, aborted, error
    duration_s: float
    journal_path: Optional[Path]
    journal: Optional[dict]
    error: Optional[str] = None
    # why a run neither held nor deviated: the first error it logged
    reason: Optional[str] = None

    @property
    def matched(self) -> bool:
        return self.outcome == self.planned.expect

    def steady_state(self, phase: str) -> Optional[bool]:
        states = (self.journal or {}).get("steady_states") or {}
        state = states.get(phase)
        return None if not state else bool(state.get("steady_state_met"))


def outcome_of(journal: dict) -> str:
    """held, deviated, or the run's status when it did not get that far."""
    if journal.get("deviated"):
        return "deviated"
    if journal.get("status") == "completed":
        return "held"
    return str(journal.get("status") or "error")


def run_plan(
    plan: Plan,
    report_dir: Path,
    on_start: Callable[[int, PlannedRun], None] = lambda i, r: None,
    on_done: Callable[[RunResult], None] = lambda r: None,
) -> list[RunResult]:
    """Run every planned run in order; journals and logs go to ``report_dir``."""
    journals = report_dir / "journals"
    journals.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    for index, planned in enumerate(plan.runs, start=1):
        on_start(index, planned)
        result = _run_one(index, planned, journals)
        results.append(result)
        on_done(result)
        if result.outcome == "interrupted" and _ctrl_c_seen(result):
            break
    return results


def _run_one(index: int, planned: PlannedRun, journals: Path) -> RunResult:
    journal_path = journals / f"{index:02d}-{_slug(planned.name)}.json"
    log_handler = logging.FileHandler(journal_path.with_suffix(".log"), encoding="utf-8")
    log_handler.setLevel(logging.DEBUG)
    log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    chaos_logger = logging.getLogger("chaostoolkit")
    chaos_logger.addHandler(log_handler)
    first_error = _FirstError()
    chaos_logger.addHandler(first_error)
    started = time.monotonic()
    try:
        experiment = load_experiment(str(planned.experiment))
        ensure_experiment_is_valid(experiment)
        settings = json.loads(json.dumps(SAFEGUARD_SETTINGS))
        load_global_controls(settings)
        with owners.scope(f"gameday run {index} {planned.name}"):
            journal = run_experiment(
                experiment, settings=settings, experiment_vars=(dict(planned.vars), {})
            )
    except Exception as error:  # noqa: BLE001 - a broken run must not stop the gameday
        logger.error("gameday: run %d (%s) could not run: %s", index, planned.name, error)
        return RunResult(
            index, planned, "error", time.monotonic() - started, None, None, str(error)
        )
    finally:
        chaos_logger.removeHandler(log_handler)
        chaos_logger.removeHandler(first_error)
        log_handler.close()
    journal_path.write_text(json.dumps(journal, indent=2, default=str), encoding="utf-8")
    outcome = outcome_of(journal)
    reason = None if outcome in ("held", "deviated") else first_error.message
    return RunResult(
        index,
        planned,
        outcome,
        time.monotonic() - started,
        journal_path,
        journal,
        reason=reason,
    )


def _slug(name: str) -> str:
    """The run's name as a file name, whole: only a name past 180 characters (file
    names stop at 255 bytes) is cut, and then ends with a hash of the full name."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    if len(slug) <= 180:
        return slug
    return f"{slug[:170]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class _FirstError(logging.Handler):
    """Keeps the first error a run logs, on one line: why it stopped or failed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message: Optional[str] = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.message is None:
            self.message = " ".join(record.getMessage().split())


def _ctrl_c_seen(result: RunResult) -> bool:
    log = result.journal_path.with_suffix(".log") if result.journal_path else None
    return bool(log and log.is_file() and "Ctrl-C" in log.read_text(encoding="utf-8"))
