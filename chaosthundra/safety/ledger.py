"""What this process has injected, or started to inject, and not yet removed.

An action records an injection as *pending* before it writes anything, and
settles it when it returns: *enabled* once the change is live, or dropped when
the write never happened. A Ctrl-C, a SIGTERM or a failed wait in between leaves
the entry pending, and pending means "possibly present": the safeguard control
re-reads the function and removes it if it is there.

Entries are keyed by where the function lives (endpoint, account, region), the
function, its qualifier (None for $LATEST, else an alias name) and the injection
name. An entry can carry the alias's state before the fault (its FunctionVersion
and RoutingConfig), for whoever has to put the alias back.

The ledger only remembers where to look: the truth is always re-read from the
function before anything is removed.

It also holds the write *steps* in progress (:func:`step`): before a step changes
something on Lambda, what it is about to change and how to undo it. A step that
does not complete (an error, SIGINT, SIGTERM, SIGHUP) is undone on the way out,
signals held back meanwhile; one whose undo failed stays, for the safeguard
control (:func:`undo_steps`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Optional

from chaoslib.types import Configuration, Secrets

from chaosthundra import interrupts

__all__ = [
    "PENDING",
    "ENABLED",
    "Entry",
    "record_pending",
    "record_enabled",
    "record_removed",
    "record_cleared",
    "active",
    "clear",
    "step",
    "steps",
    "undo_steps",
]

logger = logging.getLogger("chaostoolkit")

PENDING = "pending"
ENABLED = "enabled"


@dataclass(frozen=True)
class Entry:
    account: str
    region: str
    function_name: str
    injection_name: str
    qualifier: Optional[str] = None
    endpoint_url: Optional[str] = None
    state: str = PENDING
    # The alias before the fault: {"FunctionVersion": ..., "RoutingConfig": ...}.
    alias_snapshot: Optional[dict] = field(default=None, compare=False)
    configuration: Configuration = field(repr=False, default=None, compare=False)
    secrets: Secrets = field(repr=False, default=None, compare=False)

    @property
    def key(self) -> tuple:
        return (
            self.endpoint_url,
            self.account,
            self.region,
            self.function_name,
            self.qualifier,
            self.injection_name.lower(),
        )

    @property
    def target(self) -> tuple:
        """The function (with its qualifier) the injection is on."""
        return self.key[:5]


_lock = threading.Lock()
_entries: dict[tuple, Entry] = {}


def record_pending(entry: Entry) -> Entry:
    """Note an injection about to be written; an earlier alias snapshot is kept."""
    with _lock:
        earlier = _entries.get(entry.key)
        snapshot = entry.alias_snapshot
        if snapshot is None and earlier is not None:
            snapshot = earlier.alias_snapshot
        pending = replace(entry, state=PENDING, alias_snapshot=snapshot)
        _entries[entry.key] = pending
        return pending


def record_enabled(entry: Entry) -> None:
    """The injection is live."""
    with _lock:
        current = _entries.get(entry.key, entry)
        _entries[entry.key] = replace(current, state=ENABLED)


def record_removed(entry: Entry) -> None:
    """The injection is gone (removed, or never written)."""
    with _lock:
        _entries.pop(entry.key, None)


def record_cleared(entry: Entry) -> None:
    """Every injection on the entry's function (and qualifier) is gone."""
    with _lock:
        for key in [k for k, e in _entries.items() if e.target == entry.target]:
            del _entries[key]


def active() -> list[Entry]:
    """Every entry, pending or enabled."""
    with _lock:
        return list(_entries.values())


def clear() -> None:
    with _lock:
        _entries.clear()
        _steps.clear()


# ------------------------------------------------------------------ steps
@dataclass(frozen=True)
class Step:
    """A write step in progress: what it changes, and the idempotent call that undoes it
    (puts back what was there, or finishes a removal)."""

    what: str
    undo: Callable[[], object] = field(repr=False)


_steps: dict[int, Step] = {}
_step_ids = itertools.count()


@contextlib.contextmanager
def step(what: str, undo: Callable[[], object]) -> Iterator[None]:
    """Record ``what`` the block is about to change and how to ``undo`` it; when the block
    raises anything (an error or an interrupt), undo it before the exception goes on."""
    key = next(_step_ids)
    with _lock:
        _steps[key] = Step(what, undo)
    try:
        yield
    except BaseException:
        _undo(key)
        raise
    with _lock:
        _steps.pop(key, None)


def steps() -> list[Step]:
    """The steps begun and neither completed nor undone (an undo that failed)."""
    with _lock:
        return list(_steps.values())


def undo_steps() -> list[str]:
    """Undo every step left; returns what was undone (the safeguard's first task)."""
    with _lock:
        keys = list(_steps)
    return [what for what in map(_undo, keys) if what is not None]


def _undo(key: int) -> Optional[str]:
    with _lock:
        found = _steps.get(key)
    if found is None:
        return None
    with interrupts.deferred(f"undoing: {found.what}"):
        try:
            found.undo()
        except Exception as error:  # noqa: BLE001 - kept for the safeguard, and said
            logger.error(
                "chaosthundra: could not undo an interrupted step (%s): %s. The safeguard "
                "control tries again at the end of the run; else run `chaosthundra clear`.",
                found.what,
                error,
            )
            return None
        with _lock:
            _steps.pop(key, None)
        logger.warning("chaosthundra: undone, as it did not complete: %s", found.what)
    return found.what
