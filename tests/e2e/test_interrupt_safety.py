"""A run stopped at any write step leaves the function, its alias and its versions as before.

The real `chaos` CLI runs an experiment that enables faults and disables them
again (with the safeguard control, as the experiments here declare it), on
$LATEST or on alias `live` at 100% or 20%. ``CHAOSTHUNDRA_TEST_STOP_AT`` makes
the run signal itself right after the Nth call of one write step reached Lambda
(see chaosthundra.interrupts): an event, not a timing. Every step of every path
is hit: each $LATEST write (the fault itself, or the fault carried into $LATEST
for a publish, and putting $LATEST back), each PublishVersion, each UpdateAlias
(routing the fault, routing it back) and each DeleteFunction of a version.

SIGINT, SIGTERM and SIGHUP: the run undoes its partial change and the safeguard
the rest. SIGKILL: `chaosthundra clear` afterwards. Either way the function
configuration, GetAlias and the versions are compared with the state before.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from chaosthundra.interrupts import STOP_AT_VARIABLE
from chaosthundra.listeners import is_ours
from chaosthundra.targets.latest import variables_of
from tests.e2e.conftest import chaosthundra_clear, sandbox_experiment

# Stop points of each path, in the order the run reaches them.
ONE_ON_LATEST = ["latest-write#1", "latest-write#2"]  # enable, disable
# enable: carry into $LATEST, publish, put $LATEST back, route; disable: route back, delete
ONE_ON_ALIAS = ["latest-write#1", "publish#1", "latest-write#2", "route#1", "route#2"] + [
    "delete-version#1"
]
# a second fault on the alias replaces the chaos version (carry, publish, put back, route,
# delete the old one), as does disabling it; then the last one goes
TWO_ON_ALIAS = (
    ONE_ON_ALIAS[:4]
    + ["latest-write#3", "publish#2", "latest-write#4", "route#2", "delete-version#1"]
    + ["latest-write#5", "publish#3", "latest-write#6", "route#3", "delete-version#2"]
    + ["route#4", "delete-version#3"]
)
TARGETS = {"latest": (None, None), "alias-100": ("live", 100), "alias-20": ("live", 20)}
ENABLE = {
    "error": ("enable_error_injection", {"error_type": "ConnectionError"}),
    "latency": ("enable_latency_injection", {"delay": 300}),
}
VOLATILE = ("ResponseMetadata", "RevisionId", "LastModified")


@pytest.fixture
def function(layered) -> str:
    return layered("stopped")


def state(lam, name: str) -> dict:
    """All an interrupted run may touch: $LATEST's configuration, GetAlias, the versions."""
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    config = lam.get_function_configuration(FunctionName=name)
    alias = lam.get_alias(FunctionName=name, Name="live")
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    return {
        "latest": {k: v for k, v in config.items() if k not in VOLATILE},
        "alias": {k: v for k, v in alias.items() if k not in VOLATILE},
        "versions": [(v["Version"], v.get("Description", "")) for v in versions],
    }


def _action(kind: str, name: str, function: str, qualifier, percentage) -> dict:
    func, arguments = ENABLE[kind]
    arguments = {"function_name": function, "injection_name": name, "class_name": "Redis"} | (
        arguments
    )
    if qualifier:
        arguments |= {"qualifier": qualifier, "traffic_percentage": percentage}
    return {
        "type": "action",
        "name": f"enable-{name}",
        "provider": {
            "type": "python",
            "module": "chaosthundra.actions",
            "func": func,
            "arguments": arguments,
        },
    }


def _disable(kind: str, name: str, function: str, qualifier) -> dict:
    arguments = {"function_name": function, "injection_name": name}
    if qualifier:
        arguments["qualifier"] = qualifier
    return {
        "type": "action",
        "name": f"disable-{name}",
        "provider": {
            "type": "python",
            "module": "chaosthundra.actions",
            "func": f"disable_{kind}_injection",
            "arguments": arguments,
        },
    }


def experiment(tmp_path: Path, sandbox, function: str, target: str, kinds: list[str]) -> Path:
    """Enable a fault of each of ``kinds`` on ``target``, then disable them in reverse."""
    qualifier, percentage = TARGETS[target]
    names = [f"{kind}_{i}" for i, kind in enumerate(kinds)]
    method = [_action(k, n, function, qualifier, percentage) for k, n in zip(kinds, names)]
    method += [_disable(k, n, function, qualifier) for k, n in reversed(list(zip(kinds, names)))]
    return sandbox_experiment(
        tmp_path / "stopped.json",
        sandbox,
        "Faults enabled and disabled, stopped at one write step",
        method,
    )


def stopped_run(tmp_path, sandbox, run_chaos, chaos_env, function, target, kinds, at, signame):
    env = chaos_env | {STOP_AT_VARIABLE: f"{at}:{signame}"}
    run = run_chaos(experiment(tmp_path, sandbox, function, target, kinds), env=env)
    run.wait(timeout=120)
    log = run.log_path.read_text()
    assert f"chaosthundra: test hook: {signame} after {at}" in log, run.output
    return run


def _cases(kinds_per_path: dict, signals: list[str]) -> list:
    cases = []
    for (target, kinds), points in kinds_per_path.items():
        for at in points:
            for signame in signals:
                cases.append(
                    pytest.param(
                        target, kinds, at, signame, id=f"{target}-{'+'.join(kinds)}-{at}-{signame}"
                    )
                )
    return cases


ONE = {
    ("latest", ("error",)): ONE_ON_LATEST,
    ("latest", ("latency",)): ONE_ON_LATEST,
    ("alias-100", ("error",)): ONE_ON_ALIAS,
    ("alias-100", ("latency",)): ONE_ON_ALIAS,
    ("alias-20", ("error",)): ONE_ON_ALIAS,
    ("alias-20", ("latency",)): ONE_ON_ALIAS,
}
TWO = {("alias-20", ("latency", "error")): TWO_ON_ALIAS}
# SIGINT and SIGHUP: the error fault on $LATEST and on 20% of the alias
SHORT = {key: points for key, points in ONE.items() if key[1] == ("error",)}
SHORT.pop(("alias-100", ("error",)))


@pytest.mark.e2e
@pytest.mark.parametrize(
    "target,kinds,at,signame",
    _cases(ONE, ["SIGTERM"]) + _cases(TWO, ["SIGTERM"]) + _cases(SHORT, ["SIGINT", "SIGHUP"]),
)
def test_a_signal_at_any_step_leaves_everything_as_before(
    tmp_path, sandbox, lam, function, run_chaos, chaos_env, target, kinds, at, signame
):
    before = state(lam, function)
    run = stopped_run(
        tmp_path, sandbox, run_chaos, chaos_env, function, target, list(kinds), at, signame
    )
    assert run.journal["status"] == "interrupted"
    assert state(lam, function) == before


@pytest.fixture
def updates_in_progress(sandbox):
    """Lambda updates stay InProgress for 1.5 s (as `sandbox up --update-delay 1500`)."""
    before = sandbox.update_delay_ms
    sandbox.update_delay_ms = 1500
    yield
    sandbox.update_delay_ms = before


def _until_latest_carries_the_fault(lam, run, function: str) -> None:
    """Until $LATEST holds our variable while its update is InProgress: the enable is
    carrying the fault there to publish it."""
    while run.proc.poll() is None:
        config = lam.get_function_configuration(FunctionName=function)
        if [k for k in variables_of(config) if is_ours(k)] and (
            config.get("LastUpdateStatus") == "InProgress"
        ):
            return
        time.sleep(0.02)  # a poll for that event, not a wait for time
    raise AssertionError("chaos exited before the fault was seen on $LATEST")


@pytest.mark.e2e
def test_sigterm_while_an_alias_enable_carries_the_fault_in_latest(
    tmp_path, sandbox, lam, function, run_chaos, updates_in_progress
):
    """Issue 19, case 1: the fault stayed on $LATEST and the safeguard found nothing."""
    before = state(lam, function)
    path = experiment(tmp_path, sandbox, function, "alias-20", ["error"])
    data = json.loads(path.read_text())
    data["method"] = data["method"][:1]
    data["method"][0]["provider"]["arguments"]["injection_name"] = "canary"
    path.write_text(json.dumps(data))
    run = run_chaos(path)
    _until_latest_carries_the_fault(lam, run, function)
    run.signal(signal.SIGTERM)
    run.wait(timeout=120)
    assert run.journal["status"] == "interrupted"
    assert state(lam, function) == before
    assert (
        f"undone, as it did not complete: $LATEST of '{function}' carrying canary while a "
        "version is published for alias 'live'"
    ) in run.log_path.read_text()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "target,kinds,at,signame",
    _cases({("latest", ("error",)): ONE_ON_LATEST} | TWO, ["SIGKILL"]),
)
def test_sigkill_at_any_step_then_clear_leaves_everything_as_before(
    tmp_path, sandbox, lam, function, run_chaos, chaos_env, target, kinds, at, signame
):
    before = state(lam, function)
    run = stopped_run(
        tmp_path, sandbox, run_chaos, chaos_env, function, target, list(kinds), at, signame
    )
    assert run.proc.returncode == -signal.SIGKILL
    chaosthundra_clear(sandbox, function)
    assert state(lam, function) == before
