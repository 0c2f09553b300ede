"""A gameday plan: which experiments to run, with which variables, expecting what.

title: Cache and upstream resilience
runs:
  - experiment: experiments/redis-failure.json   # relative to the plan file
    vars: {function_name: user-get-naive}
    expect: deviated                              # or: held
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Plan", "PlannedRun", "PlanError", "load_plan", "OUTCOMES"]

OUTCOMES = ("held", "deviated")
_PLAN_KEYS = {"title", "description", "runs"}
_RUN_KEYS = {"name", "experiment", "vars", "expect"}


class PlanError(ValueError):
    """The plan cannot be run as written; the message says where and why."""


@dataclass(frozen=True)
class PlannedRun:
    name: str
    experiment: Path
    vars: dict[str, Any]
    expect: str


@dataclass(frozen=True)
class Plan:
    path: Path
    title: str
    description: str
    runs: list[PlannedRun] = field(default_factory=list)


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; PlanError names the first problem found."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"plan file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PlanError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise PlanError(f"{path}: a plan is a mapping with a 'runs' list")
    _no_unknown(data, _PLAN_KEYS, f"{path}")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise PlanError(f"{path}: 'runs' must be a non-empty list of runs")
    planned = [_run(path, index, entry) for index, entry in enumerate(runs, start=1)]
    return Plan(
        path=path,
        title=str(data.get("title") or path.stem),
        description=str(data.get("description") or ""),
        runs=planned,
    )


def _run(path: Path, index: int, entry: Any) -> PlannedRun:
    where = f"{path}: run {index}"
    if not isinstance(entry, dict):
        raise PlanError(f"{where}: each run is a mapping with experiment, vars and expect")
    _no_unknown(entry, _RUN_KEYS, where)
    experiment = entry.get("experiment")
    if not isinstance(experiment, str) or not experiment:
        raise PlanError(f"{where}: 'experiment' (a path to an experiment file) is required")
    experiment_path = (path.parent / experiment).resolve()
    if not experiment_path.is_file():
        raise PlanError(
            f"{where}: experiment file {experiment!r} does not exist (looked at {experiment_path})"
        )
    variables = entry.get("vars") or {}
    if not isinstance(variables, dict) or not all(isinstance(k, str) for k in variables):
        raise PlanError(f"{where}: 'vars' must be a mapping of configuration key to value")
    expect = entry.get("expect")
    if expect not in OUTCOMES:
        raise PlanError(f"{where}: 'expect' must be one of {', '.join(OUTCOMES)}, got {expect!r}")
    default_name = experiment_path.stem + "".join(f" {k}={v}" for k, v in variables.items())
    return PlannedRun(
        name=str(entry.get("name") or default_name),
        experiment=experiment_path,
        vars=dict(variables),
        expect=expect,
    )


def _no_unknown(data: dict, allowed: set, where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise PlanError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
