"""What this process has injected and not yet removed.

Actions write to it; the safeguard control reads it at the end of a run and
removes whatever is still active. It only remembers where to look: the truth is
always re-read from the function's configuration before anything is removed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

from chaoslib.types import Configuration, Secrets

__all__ = ["Entry", "record_enabled", "record_removed", "active", "clear"]


@dataclass
class Entry:
    function_name: str
    injection_name: str
    endpoint_url: Optional[str]
    region: Optional[str]
    configuration: Configuration = field(repr=False, default=None)
    secrets: Secrets = field(repr=False, default=None)


_lock = threading.Lock()
_entries: dict[tuple, Entry] = {}


def _key(entry: Entry) -> tuple:
    return (entry.endpoint_url, entry.region, entry.function_name, entry.injection_name)


def record_enabled(entry: Entry) -> None:
    with _lock:
        _entries[_key(entry)] = entry


def record_removed(entry: Entry) -> None:
    with _lock:
        _entries.pop(_key(entry), None)


def active() -> list[Entry]:
    with _lock:
        return list(_entries.values())


def clear() -> None:
    with _lock:
        _entries.clear()
