"""Gamedays: run a plan of experiments, compare outcomes with expectations, report."""

from chaosthundra.gameday.plan import Plan, PlanError, PlannedRun, load_plan
from chaosthundra.gameday.runner import RunResult, run_plan

__all__ = ["Plan", "PlanError", "PlannedRun", "RunResult", "load_plan", "run_plan"]
