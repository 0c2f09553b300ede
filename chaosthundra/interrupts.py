"""Signals that stop a run in the middle of a write, and what the write does about them.

SIGINT raises KeyboardInterrupt. While a write is in progress (:func:`stopping`)
and for the whole run under the safeguard control, SIGTERM and SIGHUP raise
``SystemExit(20)``: chaoslib's code for "stop now, keep the rollbacks", which
the python provider and botocore's retries let through (chaoslib's own SIGTERM
handler raises an ``Exception`` that botocore takes for a transient HTTP error
when it lands in a request, and SIGHUP would end the process on the spot).
Either way the write in progress undoes its partial change on the way out
(``ledger.step``), with these signals held back (:func:`deferred`) until it is done.

:func:`checkpoint` marks each call that changes something on Lambda. It does
nothing unless ``CHAOSTHUNDRA_TEST_STOP_AT`` names it, as tests do to stop a run
at an exact step: ``route#2:SIGTERM`` sends SIGTERM to this process right after
its second UpdateAlias.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections import Counter
from typing import Any, Callable, Iterator

__all__ = [
    "SIGNALS",
    "STOP_AT_VARIABLE",
    "STOP_KEEPING_ROLLBACKS",
    "checkpoint",
    "deferred",
    "install",
    "stopping",
]

logger = logging.getLogger("chaostoolkit")

# chaoslib's SIGUSR1 code: stop now, keep the rollbacks (30 would skip them).
STOP_KEEPING_ROLLBACKS = 20
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_AT_VARIABLE = "CHAOSTHUNDRA_TEST_STOP_AT"
STEPS = ("latest-write", "publish", "route", "delete-version")

_reached: Counter = Counter()


def checkpoint(step: str) -> None:
    """A write ``step`` (one of STEPS) just reached Lambda; the test hook may signal here."""
    spec = os.environ.get(STOP_AT_VARIABLE)
    if not spec:
        return
    _reached[step] += 1
    where, _, name = spec.partition(":")
    wanted, _, nth = where.partition("#")
    if wanted == step and _reached[step] == int(nth or 1):
        logger.warning("chaosthundra: test hook: %s after %s#%d", name, step, _reached[step])
        os.kill(os.getpid(), getattr(signal, name or "SIGTERM"))


def _stop(signum: int, frame: Any) -> None:
    logger.warning("chaosthundra: %s received, stopping the run", signal.Signals(signum).name)
    raise SystemExit(STOP_KEEPING_ROLLBACKS)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _replaceable(handler: Any) -> bool:
    """Handlers that let a signal end a write half done: none, or chaoslib's SIGTERM one."""
    return handler in (signal.SIG_DFL, None) or (
        getattr(handler, "__module__", "") == "chaoslib.exit"
    )


def install(replace_any: bool = False) -> Callable[[], None]:
    """SIGTERM and SIGHUP stop the run (``SystemExit(20)``) wherever they land; returns
    what puts the previous handlers back. Only the default handlers and chaoslib's are
    replaced, unless ``replace_any``. Does nothing outside the main thread."""
    if not _in_main_thread():
        return lambda: None
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        current = signal.getsignal(signum)
        if current is not _stop and (replace_any or _replaceable(current)):
            previous[signum] = signal.signal(signum, _stop)

    def restore() -> None:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _stop:
                signal.signal(signum, handler)

    return restore


@contextlib.contextmanager
def stopping() -> Iterator[None]:
    """For a write: SIGTERM and SIGHUP raise SystemExit(20), so it can undo its part."""
    restore = install()
    try:
        yield
    finally:
        restore()


@contextlib.contextmanager
def deferred(what: str) -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while ``what`` runs (an undo that must not be
    cut short); one that came meanwhile is raised again afterwards."""
    if not _in_main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if caught:
            name = signal.Signals(caught[0]).name
            logger.warning("chaosthundra: %s held back until %s was done", name, what)
            signal.raise_signal(caught[0])
