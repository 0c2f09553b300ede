"""The ledger knows first: an injection is pending before it is written, settled after.

In-process against the moto server. An interrupt at a precise point (right after
the write went through) is raised from a botocore event hook on the real client;
the real `chaos` CLI runs with signals and an update delay are in tests/e2e.
"""

from __future__ import annotations

from contextlib import contextmanager
from secrets import token_urlsafe
from typing import Callable, Iterator

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions
from chaosthundra.aws import client
from chaosthundra.controls import safeguard
from chaosthundra.listeners import is_ours
from chaosthundra.safety import ledger

REDIS = {"class_name": "Redis"}
UPDATE = "lambda.UpdateFunctionConfiguration"


@pytest.fixture(autouse=True)
def empty_ledger() -> Iterator[None]:
    ledger.clear()
    yield
    ledger.clear()


@contextmanager
def hooked(configuration: dict, event: str, handler: Callable) -> Iterator[None]:
    """``handler`` runs on every ``event`` of the real client, for the block only: the one
    the activities get now (clients are cached for 10 minutes, so a session-wide client
    can be an expired one in a long run)."""
    lam = client("lambda", configuration)
    lam.meta.events.register(event, handler, unique_id="test-ledger")
    try:
        yield
    finally:
        lam.meta.events.unregister(event, unique_id="test-ledger")


def _ours(snap, name: str) -> list[str]:
    return [k for k in (snap(name).get("Environment") or {}).get("Variables", {}) if is_ours(k)]


def test_the_entry_is_pending_before_the_write_and_enabled_after(lam, make_function, configuration):
    name = make_function({"A": "1"})
    seen = []
    with hooked(configuration, f"before-call.{UPDATE}", lambda **_: seen.extend(ledger.active())):
        actions.enable_error_injection(name, configuration=configuration, **REDIS)
    (entry,) = seen
    assert (entry.function_name, entry.injection_name, entry.state) == (name, "error", "pending")
    assert (entry.account, entry.region, entry.qualifier) == ("123456789012", "eu-west-1", None)
    assert [e.state for e in ledger.active()] == ["enabled"]
    actions.disable_error_injection(name, configuration=configuration)
    assert ledger.active() == []


@pytest.mark.parametrize(
    "event,interrupt",
    [
        (f"after-call.{UPDATE}", KeyboardInterrupt),
        (f"after-call.{UPDATE}", SystemExit),
        (f"before-call.{UPDATE}", KeyboardInterrupt),
    ],
    ids=["Ctrl-C-after-the-write", "SystemExit-after-the-write", "Ctrl-C-before-the-write"],
)
def test_an_interrupted_enable_leaves_a_pending_entry_the_safeguard_settles(
    lam, make_function, snap, configuration, event, interrupt
):
    name = make_function({"A": "1"})
    before = snap(name)

    def interrupted(**_):
        raise interrupt()

    with hooked(configuration, event, interrupted), pytest.raises(interrupt):
        actions.enable_error_injection(name, configuration=configuration, **REDIS)
    # the enable undid its own write on the way out (a ledger step), before the sweep
    assert _ours(snap, name) == []
    assert [(e.function_name, e.state) for e in ledger.active()] == [(name, "pending")]

    assert safeguard.sweep() == []
    assert snap(name) == before
    assert ledger.active() == [] and ledger.steps() == []


def test_a_refused_write_settles_the_entry_away(make_function, snap, configuration):
    name = make_function({"BIG": "x" * 3900})
    before = snap(name)
    with pytest.raises(ActivityFailed, match="4096-byte limit"):
        actions.enable_error_injection(name, configuration=configuration, **REDIS)
    assert ledger.active() == []
    assert snap(name) == before


def test_a_failed_replace_keeps_the_live_injection_in_the_ledger(
    make_function, snap, configuration
):
    name = make_function({"A": "1"})
    actions.enable_error_injection(name, configuration=configuration, **REDIS)
    with pytest.raises(ActivityFailed, match="4096-byte limit"):
        actions.enable_error_injection(
            name, configuration=configuration, error_message=token_urlsafe(4000), **REDIS
        )
    assert [e.state for e in ledger.active()] == ["pending"]  # the first one is still on
    safeguard.sweep()
    assert _ours(snap, name) == []


def test_remove_all_injections_settles_every_entry_of_the_function(make_function, configuration):
    name, other = make_function(), make_function()
    for injection in ("one", "two"):
        actions.enable_error_injection(
            name, injection_name=injection, configuration=configuration, **REDIS
        )
    actions.enable_error_injection(other, configuration=configuration, **REDIS)
    actions.remove_all_injections(name, configuration=configuration)
    assert [e.function_name for e in ledger.active()] == [other]


def _entry(**changes) -> ledger.Entry:
    fields = dict(account="1", region="r", function_name="f", injection_name="error")
    return ledger.Entry(**{**fields, **changes})


def test_entries_are_keyed_by_account_region_function_qualifier_and_name():
    variants = [
        _entry(),
        _entry(account="2"),
        _entry(region="s"),
        _entry(function_name="g"),
        _entry(qualifier="live"),
        _entry(injection_name="latency"),
    ]
    for entry in variants:
        ledger.record_pending(entry)
    assert len(ledger.active()) == len(variants)
    ledger.record_pending(_entry(injection_name="ERROR"))  # names are case-insensitive
    assert len(ledger.active()) == len(variants)


def test_an_alias_snapshot_survives_a_later_enable_of_the_same_injection():
    snapshot = {"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {}}}
    ledger.record_enabled(ledger.record_pending(_entry(qualifier="live", alias_snapshot=snapshot)))
    ledger.record_pending(_entry(qualifier="live"))
    (entry,) = ledger.active()
    assert entry.alias_snapshot == snapshot
    assert entry.state == "pending"
    ledger.record_cleared(_entry(qualifier="live", injection_name="*"))
    assert ledger.active() == []
