"""Signals in the middle of a write: held back during an undo, and turned into SystemExit."""

from __future__ import annotations

import os
import signal

import pytest

from chaosthundra import interrupts
from chaosthundra.safety import ledger


@pytest.fixture(autouse=True)
def clean_ledger():
    ledger.clear()
    yield
    ledger.clear()


def test_a_step_that_raises_is_undone_with_signals_held_back_until_then():
    done = []

    def undo():
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the undo
        done.append("undone")

    restore = interrupts.install()
    try:
        with pytest.raises(SystemExit) as stopped, ledger.step("a write", undo):
            raise KeyboardInterrupt
    finally:
        restore()
    # the undo ran to its end, then the held SIGTERM stopped the run (keeping rollbacks)
    assert done == ["undone"]
    assert stopped.value.code == interrupts.STOP_KEEPING_ROLLBACKS
    assert ledger.steps() == []


def test_a_step_whose_undo_fails_stays_for_the_safeguard():
    attempts = []

    def undo():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("Lambda said no")

    with pytest.raises(ValueError), ledger.step("a write", undo):
        raise ValueError("the write failed")
    assert [s.what for s in ledger.steps()] == ["a write"]
    assert ledger.undo_steps() == ["a write"]
    assert len(attempts) == 2 and ledger.steps() == []


def test_a_step_that_completes_leaves_nothing_to_undo():
    with ledger.step("a write", lambda: pytest.fail("undone")):
        pass
    assert ledger.steps() == [] and ledger.undo_steps() == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_while_writing_sigterm_and_sighup_raise_systemexit_then_handlers_come_back(signum):
    previous = signal.signal(signum, signal.SIG_DFL)
    try:
        with pytest.raises(SystemExit) as stopped, interrupts.stopping():
            os.kill(os.getpid(), signum)
        assert stopped.value.code == interrupts.STOP_KEEPING_ROLLBACKS
        assert signal.getsignal(signum) is signal.SIG_DFL
    finally:
        signal.signal(signum, previous)


def test_a_handler_of_the_caller_is_left_alone_while_writing():
    def mine(signum, frame):
        raise LookupError

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with pytest.raises(LookupError), interrupts.stopping():
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_test_hook_signals_at_the_named_occurrence_only(monkeypatch):
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    monkeypatch.setattr(interrupts, "_reached", interrupts.Counter())
    monkeypatch.setenv(interrupts.STOP_AT_VARIABLE, "route#2:SIGUSR1")
    try:
        interrupts.checkpoint("route")
        interrupts.checkpoint("publish")
        assert received == []
        interrupts.checkpoint("route")
        assert received == [signal.SIGUSR1]
        interrupts.checkpoint("route")
        assert received == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)
