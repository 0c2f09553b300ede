"""The safeguard control and the kill switch, in-process against moto.

The real `chaos` CLI runs (failed, SIGINT, SIGTERM, rollbacks never, SIGKILL)
are in tests/e2e.
"""

from __future__ import annotations

import signal

import pytest

from chaosthundra import actions
from chaosthundra.controls import safeguard
from chaosthundra.listeners import parse_injections
from chaosthundra.safety import killswitch, ledger
from chaosthundra.targets.latest import variables_of


def test_sweep_removes_what_is_still_active_and_nothing_else(make_function, snap, configuration):
    a, b = make_function({"A": "1"}), make_function({"B": "2"})
    before_a, before_b = snap(a), snap(b)
    safeguard.configure_control(configuration=configuration)
    actions.enable_error_injection(a, class_name="Redis", configuration=configuration)
    actions.enable_latency_injection(a, delay=10, class_name="HTTP", configuration=configuration)
    actions.enable_error_injection(b, class_name="Redis", configuration=configuration)
    actions.disable_error_injection(b, configuration=configuration)  # rolled back already

    journal: dict = {}
    safeguard.after_experiment_control(context={}, state=journal)
    removed = journal["chaosthundra"]["safeguard_removed"]
    assert sorted((r["function_name"], r["injection_name"]) for r in removed) == [
        (a, "error"),
        (a, "latency"),
    ]
    assert snap(a) == before_a and snap(b) == before_b
    assert ledger.active() == []
    safeguard.cleanup_control()  # idempotent


def test_sweep_keeps_going_when_one_removal_fails(make_function, snap, configuration, lam):
    a, b = make_function(), make_function()
    safeguard.configure_control()
    actions.enable_error_injection(a, class_name="Redis", configuration=configuration)
    actions.enable_error_injection(b, class_name="Redis", configuration=configuration)
    lam.delete_function(FunctionName=a)  # gone: its removal fails
    removed = safeguard.sweep()
    assert [r["function_name"] for r in removed] == [b]
    assert not [i for i in parse_injections(variables_of(snap(b))) if i.ours]


def test_killswitch_finds_and_clears_only_our_variables(make_function, snap, configuration):
    foreign = {"THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OPS": '{"type":"X","config":{"a":1}}'}
    a, b, clean = make_function(dict(foreign)), make_function(), make_function()
    actions.enable_error_injection(a, class_name="Redis", configuration=configuration)
    actions.enable_latency_injection(b, delay=10, class_name="HTTP", configuration=configuration)
    ledger.clear()  # as if the injecting process had died

    found = {f["function_name"]: f for f in killswitch.scan(configuration)}
    assert [i["name"] for i in found[a]["injections"] if i["ours"]] == ["error"]
    assert [i["name"] for i in found[b]["injections"] if i["ours"]] == ["latency"]
    assert found[clean]["injections"] == []

    only_b = killswitch.clear(configuration, function_names=[b])
    assert [r["function_name"] for r in only_b] == [b]
    results = killswitch.clear(configuration)
    assert a in [r["function_name"] for r in results]
    assert snap(a)["Environment"]["Variables"] == foreign
    assert killswitch.clear(configuration, function_names=[a, b, clean]) == []


def test_killswitch_and_safeguard_handle_catchpoint_injections(make_function, snap, configuration):
    foreign = {"CATCHPOINT_TRACE_SPAN_LISTENERCONFIG_OPS": '{"type":"X","config":{"a":1}}'}
    catchpoint = {**configuration, "chaosthundra_agent": "catchpoint"}
    a, b = make_function(dict(foreign), handler="app.h"), make_function(handler="app.h")
    before_b = snap(b)
    safeguard.configure_control(configuration=catchpoint)
    actions.enable_error_injection(a, class_name="Redis", configuration=catchpoint)
    actions.enable_error_injection(b, class_name="Redis", configuration=catchpoint)
    assert "CATCHPOINT_TRACE_SPAN_LISTENERCONFIG_CHAOSTHUNDRA_ERROR" in variables_of(snap(a))

    assert sorted(killswitch.with_injections(configuration, function_names=[a, b])) == sorted(
        [a, b]
    )
    assert [r["removed"] for r in killswitch.clear(configuration, function_names=[a])] == [
        ["error"]
    ]
    assert snap(a)["Environment"]["Variables"] == foreign
    removed = safeguard.sweep()
    assert [(r["function_name"], r["injection_name"]) for r in removed] == [(b, "error")]
    assert snap(b) == before_b
    safeguard.cleanup_control()


def test_while_armed_sigterm_stops_the_run_wherever_it_lands():
    """SystemExit, not chaoslib's InterruptExecution, which botocore retries inside a
    request; the real signal in a real run is in tests/e2e/test_interrupted_enable.py."""

    def before(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, before)
    try:
        safeguard.configure_control()
        safeguard.configure_control()  # declared twice (settings and experiment): one handler
        armed = signal.getsignal(signal.SIGTERM)
        assert armed is not before
        with pytest.raises(SystemExit) as raised:
            armed(signal.SIGTERM, None)
        assert raised.value.code == safeguard.STOP_KEEPING_ROLLBACKS
        safeguard.cleanup_control()
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, previous)
