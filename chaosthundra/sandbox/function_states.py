"""What Lambda's control plane keeps about a function that moto does not.

moto answers every Lambda write as done at once and keeps no RevisionId on a
function. Lambda keeps, per function: a RevisionId for ``$LATEST``, for each
published version and for each alias, new on every change and every state
transition; a ``State`` (Pending after CreateFunction, then Active); and a
``LastUpdateStatus`` (InProgress after an update, then Successful). Until an
update is Successful, new execution environments still start from the
configuration as it was before it.

This module holds that state, and nothing else: no HTTP, no moto. Transitions are
driven by time, lazily: a record settles when it is read after its ``ready_at``.
Like moto's, the state is global to the process (one :data:`STATES`).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["STATES", "FunctionKey", "FunctionRecord", "FunctionStates", "new_revision"]

FunctionKey = tuple[str, str, str]  # account, region, function name


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass
class FunctionRecord:
    """The control-plane state of one function.

    ``latest`` is the moto object of ``$LATEST`` the record belongs to: a function
    deleted and created again is a new object, hence a new record. ``stable`` is a
    copy of ``$LATEST`` as it was when last Successful, kept while an update is in
    progress.
    """

    latest: Any
    revision: str = field(default_factory=new_revision)
    state: str = "Active"
    update_status: str = "Successful"
    ready_at: float = 0.0
    stable: Any = None
    versions: dict[str, str] = field(default_factory=dict)
    # the highest version number ever published: Lambda never gives one out twice
    last_version: int = 0
    aliases: dict[str, str] = field(default_factory=dict)

    def settle(self, now: float) -> None:
        """Complete a pending creation or an update whose time has come."""
        if self.ready_at and now >= self.ready_at:
            self.state = "Active"
            self.update_status = "Successful"
            self.stable = None
            self.ready_at = 0.0
            self.revision = new_revision()

    @property
    def pending(self) -> bool:
        return self.state == "Pending"

    @property
    def updating(self) -> bool:
        return self.update_status == "InProgress"

    def created(self, delay_s: float) -> None:
        self.state, self.ready_at = "Pending", time.monotonic() + delay_s
        self.revision = new_revision()

    def update_started(self, stable: Any, delay_s: float) -> None:
        self.update_status, self.ready_at = "InProgress", time.monotonic() + delay_s
        self.stable = stable
        self.revision = new_revision()

    def version_revision(self, version: str) -> str:
        return self.versions.setdefault(version, new_revision())

    def alias_revision(self, alias: str) -> str:
        return self.aliases.setdefault(alias, new_revision())


class FunctionStates:
    """Records by (account, region, function name), behind one lock.

    Hold :attr:`lock` across a check-then-write sequence (the control plane does,
    around each Lambda write it forwards to moto).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._records: dict[FunctionKey, FunctionRecord] = {}

    def current(self, key: FunctionKey, latest: Any) -> FunctionRecord:
        """The settled record of the function whose ``$LATEST`` is ``latest``."""
        with self.lock:
            record = self._records.get(key)
            if record is None or record.latest is not latest:
                record = self._records[key] = FunctionRecord(latest)
            record.settle(time.monotonic())
            return record

    def forget(self, key: FunctionKey) -> None:
        with self.lock:
            self._records.pop(key, None)

    def peek(self, key: FunctionKey) -> Optional[FunctionRecord]:
        with self.lock:
            return self._records.get(key)


STATES = FunctionStates()
