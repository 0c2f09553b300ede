"""Who owns an injection: the run or process that enabled it.

The record lives in the injection's own variable, beside the listener config, under
the key ``owner`` (both agents read only ``type`` and ``config`` of that JSON). So
every host that can read the function sees who holds each fault, the record comes
and goes with the fault in one write, and a chaos version carries it to an alias.
It costs about 150 bytes of the 4 KB a function's variables may take.

An owner is a ``chaos run`` (one experiment per process), one run of a gameday
(:func:`scope`), or else the process that called the Python API. Two owners are
the same when their ``id`` is: a random token drawn once per process or scope.

An owner is provably gone only when it ran on this machine (same host name, same
boot, same PID namespace) and its process has exited, or its PID now belongs to a
process that started at another time (a PID reused). Anywhere else its fate is
unknown, and it is taken for alive.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from chaosthundra.listeners import OWNER_KEY

__all__ = ["OWNER_KEY", "Owner", "current", "scope", "stamp", "owner_of", "age"]

BY_LIMIT = 64  # characters of the owner's description kept in the record

_lock = threading.Lock()
_process: Optional[tuple[int, str, str]] = None  # (pid, id, by) of this process
_scopes: list[tuple[str, str]] = []  # (id, by) of the scopes entered, innermost last


@dataclass(frozen=True)
class Owner:
    """The holder of one injection, as recorded in its variable."""

    id: str  # random token of the run or process
    by: str  # what it is, for people: "chaos run experiments/x.json"
    host: str
    pid: int
    started: Optional[float]  # the process's start, epoch seconds (None: unknown)
    machine: str  # digest of boot id and PID namespace: PIDs compare only where it matches
    since: float  # when it took the injection, epoch seconds
    name: str = ""  # the injection name as the owner spelt it

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "by": self.by,
            "h": self.host,
            "p": self.pid,
            "s": self.started,
            "m": self.machine,
            "t": round(self.since),
            "n": self.name,
        }

    @classmethod
    def from_json(cls, data: Any) -> Optional[Owner]:
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(
                id=str(data["id"]),
                by=str(data.get("by") or ""),
                host=str(data.get("h") or ""),
                pid=int(data.get("p") or 0),
                started=None if data.get("s") is None else float(data["s"]),
                machine=str(data.get("m") or ""),
                since=float(data.get("t") or 0),
                name=str(data.get("n") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def same(self, other: Owner) -> bool:
        return self.id == other.id

    def describe(self) -> str:
        """ "chaos run x.json (pid 42 on host ci-7), enabled 3 min 5 s ago"."""
        return f"{self.by} (pid {self.pid} on host {self.host}), enabled {age(self.since)} ago"

    def gone(self) -> Optional[str]:
        """Why this owner provably no longer runs, or None when that cannot be shown."""
        if not self.pid or self.host != _host() or self.machine != _machine():
            return None
        state = _process_state(self.pid)
        if state is None or state == "Z":
            return f"its process {self.pid} on host {self.host} has exited"
        started = _started(self.pid)
        if self.started is not None and started is not None and started != self.started:
            return (
                f"its process {self.pid} on host {self.host} has exited (that PID now belongs "
                "to a process started at another time)"
            )
        return None


def current(name: str = "") -> Owner:
    """The owner of what this code enables now, for injection ``name``."""
    owner_id, by = _identity()
    pid = os.getpid()
    return Owner(owner_id, by, _host(), pid, _started(pid), _machine(), time.time(), name)


@contextlib.contextmanager
def scope(by: str) -> Iterator[None]:
    """Make what is enabled inside the block owned by a new owner described as ``by``
    (one run of a gameday); its rollbacks and safeguard run inside too."""
    entry = (uuid.uuid4().hex[:12], by[:BY_LIMIT])
    with _lock:
        _scopes.append(entry)
    try:
        yield
    finally:
        with _lock:
            _scopes.remove(entry)


def stamp(config: Mapping[str, Any], owner: Owner) -> dict:
    """The listener config with its owner record: what the variable holds."""
    return {**config, OWNER_KEY: owner.to_json()}


def owner_of(config: Mapping[str, Any]) -> Optional[Owner]:
    """The owner recorded in a decoded variable, None when it has none."""
    return Owner.from_json(config.get(OWNER_KEY))


def age(since: float, now: Optional[float] = None) -> str:
    seconds = max(0, int((time.time() if now is None else now) - since))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


# ------------------------------------------------------------------ internals
def _identity() -> tuple[str, str]:
    global _process
    with _lock:
        if _scopes:
            return _scopes[-1]
        pid = os.getpid()
        if _process is None or _process[0] != pid:  # drawn again in a forked child
            _process = (pid, uuid.uuid4().hex[:12], _describe_process()[:BY_LIMIT])
        return _process[1], _process[2]


def _describe_process() -> str:
    argv = list(sys.argv)
    program = Path(argv[0]).name if argv and argv[0] not in ("", "-c", "-m") else "python"
    if program == "chaos" and "run" in argv:
        return f"chaos run {Path(_experiment_of(argv[argv.index('run') + 1 :])).name}"
    return f"process {program}"


def _experiment_of(args: list[str]) -> str:
    """The experiment a ``chaos run`` was given, read as its own command line parser does."""
    command = getattr(sys.modules.get("chaostoolkit.commands.run"), "run", None)
    with contextlib.suppress(Exception):  # any failure: the fallback below
        context = command.make_context("run", list(args), resilient_parsing=True)
        if context.params.get("source"):
            return str(context.params["source"])
    return next((a for a in reversed(args) if not a.startswith("-")), "?")


def _host() -> str:
    return socket.gethostname()


def _machine() -> str:
    """Boot id and PID namespace: two processes see each other's PIDs only where they agree."""
    parts = []
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8] if parts else ""


def _process_state(pid: int) -> Optional[str]:
    """ "R", "S", "Z"...; "?" when alive but unreadable; None when there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0]
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return "?"
    return "?"


def _started(pid: int) -> Optional[float]:
    """When process ``pid`` started (epoch seconds, 10 ms steps); None where unknown."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        return round(_boot_time() + ticks / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, IndexError, ValueError):
        return None


def _boot_time() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise ValueError("no btime in /proc/stat")
