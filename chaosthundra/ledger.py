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
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Optional

from chaoslib.types import Configuration, Secrets

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
]

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
