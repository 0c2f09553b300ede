"""Every injection has an owner; only its owner, force=True or the kill switch removes it.

Against the embedded sandbox (its Lambda control plane: RevisionIds, 409s while an
update is InProgress). The other owner is a real second process using the Python
API, which holds its fault until the test closes its stdin; the real `chaos run`
pair is in tests/e2e/test_owned_runs.py.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions
from chaosthundra.engine import owners, remove
from chaosthundra.listeners import decode, env_key, parse_injections
from chaosthundra.safety import killswitch, ledger
from chaosthundra.targets import latest
from chaosthundra.targets.routing import Routing
from tests.core import on_sandbox

configuration, lam, role_arn = on_sandbox.configuration, on_sandbox.lam, on_sandbox.role_arn

REPO = Path(__file__).resolve().parents[2]
REDIS = {"class_name": "Redis"}
KEY = env_key("shared")

# A second owner: enables, prints the result, holds the fault until stdin closes.
HOLDER = """
import json, sys
from chaosthundra.actions import enable_error_injection
configuration, function_name, injection_name = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
result = enable_error_injection(
    function_name, class_name="Redis", injection_name=injection_name, configuration=configuration
)
print(json.dumps({"status": result["status"]}), flush=True)
sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def empty_ledger() -> Iterator[None]:
    ledger.clear()
    yield
    ledger.clear()


class Holder:
    """Another process that enabled ``injection_name`` on the function and still runs."""

    def __init__(self, configuration: dict, function_name: str, injection_name: str = "shared"):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                HOLDER,
                json.dumps(configuration),
                function_name,
                injection_name,
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # the event: its enable returned
        assert json.loads(line)["status"] == "enabled", line

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture
def holder(configuration, make_function) -> Iterator[tuple[str, Holder]]:
    name = make_function({"KEEP": "me"})
    held = Holder(configuration, name)
    yield name, held
    held.close()


def _value(lam, name: str) -> str:
    return latest.variables_of(lam.get_function_configuration(FunctionName=name))[KEY]


def test_a_second_owners_enable_is_refused_naming_the_holder_and_its_age(
    holder, configuration, lam
):
    name, held = holder
    before = _value(lam, name)
    with pytest.raises(ActivityFailed) as refused:
        actions.enable_error_injection(
            name, class_name="HTTP", injection_name="shared", configuration=configuration
        )
    message = str(refused.value)
    assert f"pid {held.proc.pid}" in message and "process" in message
    assert "enabled 0 s ago" in message or " s ago" in message
    assert "force=True" in message and "chaosthundra clear" in message
    assert _value(lam, name) == before  # untouched
    assert ledger.active() == []  # nothing of ours to sweep


def test_names_differing_only_in_case_are_the_same_injection(holder, configuration, lam):
    name, held = holder
    before = _value(lam, name)
    with pytest.raises(ActivityFailed, match=f"pid {held.proc.pid}"):
        actions.enable_error_injection(
            name, injection_name="SHARED", configuration=configuration, **REDIS
        )
    assert _value(lam, name) == before


def test_one_owner_spelling_a_name_two_ways_is_refused(make_function, configuration, lam, snap):
    name = make_function({"KEEP": "me"})
    actions.enable_error_injection(name, injection_name="abc", configuration=configuration, **REDIS)
    value = _value_of(lam, name, "abc")
    with pytest.raises(ActivityFailed, match="case-insensitive"):
        actions.enable_error_injection(
            name, injection_name="ABC", configuration=configuration, **REDIS
        )
    assert _value_of(lam, name, "abc") == value
    # the same spelling replaces it, as before; the disable takes any spelling
    again = actions.enable_error_injection(
        name, injection_name="abc", configuration=configuration, class_name="HTTP"
    )
    assert again["status"] == "replaced"
    assert actions.disable_error_injection(name, "ABC", configuration=configuration)["status"] == (
        "disabled"
    )


def _value_of(lam, name: str, injection: str) -> str:
    return latest.variables_of(lam.get_function_configuration(FunctionName=name))[
        env_key(injection)
    ]


def test_a_rollback_leaves_another_owners_fault_in_place(holder, configuration, lam, caplog):
    name, held = holder
    before = _value(lam, name)
    with caplog.at_level(logging.INFO, logger="chaostoolkit"):
        result = actions.disable_error_injection(name, "shared", configuration=configuration)
        everything = actions.remove_all_injections(name, configuration=configuration)
    assert result["status"] == "left"
    assert f"pid {held.proc.pid}" in result["holder"]
    assert everything["status"] == "absent" and everything["left"] == ["shared"]
    assert _value(lam, name) == before
    assert f"left injection 'shared' on Lambda function '{name}'" in caplog.text


def test_a_dead_owners_injection_is_taken_over_with_a_log_line(holder, configuration, lam, caplog):
    name, held = holder
    held.kill()
    with caplog.at_level(logging.INFO, logger="chaostoolkit"):
        result = actions.enable_error_injection(
            name, injection_name="shared", configuration=configuration, class_name="HTTP"
        )
    assert result["status"] == "replaced"
    assert "took over injection 'shared'" in caplog.text
    assert f"process {held.proc.pid}" in caplog.text and "has exited" in caplog.text
    (mine,) = parse_injections({KEY: _value(lam, name)})
    assert mine.owner["id"] == owners.current().id
    assert mine.config["config"]["filters"] == [{"className": "HTTP"}]
    assert (
        actions.disable_error_injection(name, "shared", configuration=configuration)["status"]
        == "disabled"
    )


def test_a_reused_pid_does_not_keep_a_dead_owners_injection(make_function, configuration, lam):
    """The record names this machine and a live PID (this test's own), but a start time
    that process never had: the PID was reused, its owner is gone."""
    name = make_function({"KEEP": "me"})
    actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, **REDIS
    )
    config = decode(_value(lam, name))
    me = owners.current()
    config["owner"] = {**config["owner"], "id": "someone-else", "p": os.getpid(), "s": 1.0}
    lam.update_function_configuration(
        FunctionName=name,
        Environment={"Variables": {"KEEP": "me", KEY: json.dumps(config)}},
    )
    latest.wait_until_updated(lam, name)
    assert owners.Owner.from_json(config["owner"]).gone() is not None
    result = actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, **REDIS
    )
    assert result["status"] == "replaced"
    assert decode(_value(lam, name))["owner"]["id"] == me.id
    # the same record with this process's real start time is alive: refused
    config["owner"]["s"] = me.started
    assert owners.Owner.from_json(config["owner"]).gone() is None


def test_force_takes_over_and_removes_a_live_owners_injection(holder, configuration, lam):
    name, held = holder
    taken = actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, force=True, class_name="HTTP"
    )
    assert taken["status"] == "replaced"
    assert decode(_value(lam, name))["owner"]["id"] == owners.current().id
    held.close()


def test_force_disable_removes_a_live_owners_injection(holder, configuration, lam):
    name, _ = holder
    result = actions.disable_error_injection(
        name, "shared", configuration=configuration, force=True
    )
    assert result["status"] == "disabled"
    assert latest.variables_of(lam.get_function_configuration(FunctionName=name)) == {"KEEP": "me"}


def test_clear_removes_a_live_owners_injection(holder, configuration, lam):
    name, _ = holder
    (result,) = killswitch.clear(configuration, function_names=[name])
    assert result["removed"] == ["shared"] and result["error"] is None
    assert latest.variables_of(lam.get_function_configuration(FunctionName=name)) == {"KEEP": "me"}


def test_the_owner_record_is_small_and_in_the_variable(make_function, configuration, lam):
    name = make_function({"KEEP": "me"})
    actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, **REDIS
    )
    value = _value(lam, name)
    record = json.dumps(decode(value)["owner"], separators=(",", ":"))
    assert len(record) <= 200, record
    (injection,) = parse_injections({KEY: value})
    assert "owner" not in injection.config  # what the agent reads is the listener alone
    assert injection.owner["by"].startswith("process ")


# ------------------------------------------------------------- a disable proves itself
def test_a_disable_raced_by_a_blind_writer_never_reports_disabled_with_the_variable_there(
    make_function, configuration, lam, slow_updates, monkeypatch, caplog
):
    """A console-like writer read the configuration while the fault was on, and writes
    it back whole, without RevisionId, as soon as Lambda lets it (409 while our
    update is InProgress). Its write lands right after ours settled: the disable
    must see the variable back and remove it again."""
    name = make_function({"KEEP": "me"})
    actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, **REDIS
    )
    stale = latest.variables_of(lam.get_function_configuration(FunctionName=name))
    assert KEY in stale
    from chaosthundra.aws import client

    writer = client("lambda", configuration)
    ours_in_flight, blind_written = threading.Event(), threading.Event()
    conflicts = []

    def blind_writer() -> None:
        ours_in_flight.wait(60)
        while True:
            try:
                writer.update_function_configuration(
                    FunctionName=name, Environment={"Variables": stale}
                )
            except writer.exceptions.ResourceConflictException:
                conflicts.append(1)  # our update is InProgress: retry as consoles do
                time.sleep(0.02)  # the writer's own retry pace, not a synchronisation
                continue
            blind_written.set()
            return

    real_wait = latest.wait_until_updated
    calls = []

    def wait_then_let_the_writer_in(lam_, function_name, timeout=latest.WAIT_TIMEOUT_SECONDS):
        calls.append(function_name)
        if len(calls) == 1:  # our disable's write was accepted and is InProgress
            ours_in_flight.set()
        real_wait(lam_, function_name, timeout)
        if len(calls) == 1:
            assert blind_written.wait(60)  # the writer got in right after ours settled

    monkeypatch.setattr(latest, "wait_until_updated", wait_then_let_the_writer_in)
    thread = threading.Thread(target=blind_writer)
    thread.start()
    with caplog.at_level(logging.INFO, logger="chaostoolkit"):
        result = actions.disable_error_injection(name, "shared", configuration=configuration)
    thread.join(60)
    assert f"{KEY} came back on Lambda function '{name}'" in caplog.text
    assert conflicts, "the writer never met our update InProgress"
    settled = latest.read_settled(lam, name)
    assert result["status"] == "disabled"
    assert KEY not in latest.variables_of(settled)
    assert latest.variables_of(settled) == {"KEEP": "me"}


def test_a_disable_undone_again_and_again_fails_naming_what_stayed(
    make_function, configuration, lam, slow_updates, monkeypatch
):
    """The writer puts its stale environment back each time it sees the variable gone:
    the disable gives up after REMOVE_ATTEMPTS removals and says what stayed."""
    name = make_function({"KEEP": "me"})
    actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, **REDIS
    )
    stale = latest.variables_of(lam.get_function_configuration(FunctionName=name))
    from chaosthundra.aws import client

    writer = client("lambda", configuration)
    real_wait = latest.wait_until_updated
    put_back = []

    def wait_then_put_it_back(lam_, function_name, timeout=latest.WAIT_TIMEOUT_SECONDS):
        real_wait(lam_, function_name, timeout)
        now = latest.variables_of(writer.get_function_configuration(FunctionName=name))
        if KEY not in now:  # our removal is live: the writer writes its old copy back
            writer.update_function_configuration(
                FunctionName=name, Environment={"Variables": stale}
            )
            put_back.append(1)

    monkeypatch.setattr(latest, "wait_until_updated", wait_then_put_it_back)
    with pytest.raises(ActivityFailed) as failed:
        actions.disable_error_injection(name, "shared", configuration=configuration)
    monkeypatch.undo()
    assert len(put_back) == remove.REMOVE_ATTEMPTS
    assert f"{KEY} stayed after {remove.REMOVE_ATTEMPTS} removals" in str(failed.value)
    assert f"chaosthundra clear --function {name}" in str(failed.value)
    (result,) = killswitch.clear(configuration, function_names=[name])
    assert result["removed"] == ["shared"]


def test_a_gameday_run_is_an_owner_of_its_own():
    process = owners.current()
    with owners.scope("gameday run 2 redis failure"):
        run = owners.current("x")
        assert run.by == "gameday run 2 redis failure" and not run.same(process)
        assert run.pid == process.pid  # same process, another owner
    assert owners.current().same(process)


def test_on_an_alias_another_owners_fault_is_refused_left_and_forced_out(
    make_function, configuration, lam, snap
):
    """The owner rides in the chaos version with the fault. Run A is a scope of its own
    in this process (alive, so never taken over); this process is the other owner."""
    name = make_function({"KEEP": "me"})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    latest_before, alias = snap(name), lam.get_alias(FunctionName=name, Name="live")
    alias_target = dict(qualifier="live", traffic_percentage=20, configuration=configuration)
    with owners.scope("chaos run A"):
        held = actions.enable_error_injection(
            name, injection_name="shared", **alias_target, **REDIS
        )
    chaos = held["version"]
    carried = lam.get_function_configuration(FunctionName=name, Qualifier=chaos)
    (injection,) = parse_injections(latest.variables_of(carried))
    assert injection.owner["by"] == "chaos run A"

    with pytest.raises(ActivityFailed, match="is held by chaos run A"):
        actions.enable_latency_injection(
            name, delay=10, injection_name="SHARED", **alias_target, class_name="HTTP"
        )
    left = actions.disable_error_injection(
        name, "shared", qualifier="live", configuration=configuration
    )
    assert left["status"] == "left" and "chaos run A" in left["holder"]
    assert lam.get_alias(FunctionName=name, Name="live")["RoutingConfig"] == (
        {"AdditionalVersionWeights": {chaos: 0.2}}
    )
    forced = actions.disable_error_injection(
        name, "shared", qualifier="live", force=True, configuration=configuration
    )
    assert forced["status"] == "disabled"
    # routed exactly as before (compared as routing: the sandbox still answers moto's empty
    # RoutingConfig where Lambda answers none, docs/moto-notes.md note 6)
    now = lam.get_alias(FunctionName=name, Name="live")
    assert Routing.of(now) == Routing.of(alias) == Routing("1", {})
    assert snap(name) == latest_before
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_a_chaos_run_is_named_by_its_experiment_wherever_the_options_stand():
    import chaostoolkit.commands.run  # noqa: F401 - loaded in every `chaos run`

    args = [
        "--journal-path",
        "j.json",
        "exp/x.json",
        "--var",
        "a=1",
        "--rollback-strategy",
        "always",
    ]
    assert owners._experiment_of(args) == "exp/x.json"


def test_an_owner_on_another_host_is_taken_for_alive(make_function, configuration, lam):
    """Its PID means nothing here, even one no process here has: refused, not taken over."""
    name = make_function({"KEEP": "me"})
    actions.enable_error_injection(
        name, injection_name="shared", configuration=configuration, **REDIS
    )
    config = decode(_value(lam, name))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], stdout=-1)
    config["owner"] = {**config["owner"], "id": "ci-job-2", "h": "ci-runner-2", "m": "0badc0de"}
    config["owner"]["p"] = int(dead.stdout)  # exited here
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"KEEP": "me", KEY: json.dumps(config)}}
    )
    latest.wait_until_updated(lam, name)
    with pytest.raises(ActivityFailed, match=f"pid {int(dead.stdout)} on host ci-runner-2"):
        actions.enable_error_injection(
            name, injection_name="shared", configuration=configuration, **REDIS
        )
    assert decode(_value(lam, name))["owner"]["id"] == "ci-job-2"
