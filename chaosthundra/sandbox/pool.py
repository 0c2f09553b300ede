"""The execution environments of all functions: reuse, concurrency, retirement.

As on Lambda:

- an environment serves one request at a time; a request that finds no idle
  environment of the function's current revision gets a new one (a cold start);
- environments are kept per version and keyed by the revision they were started
  with (:attr:`FunctionSpec.fingerprint`). Once a request that read the settings
  later than any before it (its ``read_order``) sees a new revision of a version,
  idle environments of that version's older revisions are killed, and busy ones
  are killed when they finish: no request is served by an environment started
  with an older configuration. A request that read the settings before the current
  revision was seen is served by a throwaway environment and retires nothing;
- reserved concurrency (PutFunctionConcurrency) caps the requests in flight for a
  function; over it, :class:`Throttled`.

Differences from AWS: the account-wide limit is ``max_environments`` (default 64,
not 1000) because every environment is a local process; when it is reached an
idle environment of another function is evicted first. Idle environments are
reclaimed after ``idle_timeout`` seconds, checked whenever a request arrives (AWS
keeps them for an unspecified time). Environments are killed off the request path,
by a reaper thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable

from .environment import Environment, Outcome
from .errors import ApiError
from .moto_state import FunctionSpec

__all__ = ["EnvironmentPool", "Throttled"]

logger = logging.getLogger("chaostoolkit")


class Throttled(ApiError):
    """HTTP 429 TooManyRequestsException, with Lambda's reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(429, "TooManyRequestsException", "Rate Exceeded.", Reason=reason)


Starter = Callable[[Environment], Outcome]


class EnvironmentPool:
    """Hands out environments for requests and takes them back."""

    def __init__(self, max_environments: int = 64, idle_timeout: float = 600.0) -> None:
        self.max_environments = max_environments
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[Environment]] = {}
        self._current: dict[tuple, tuple[int, str]] = {}  # version: (read order, fingerprint)
        self._in_flight: dict[tuple, int] = {}
        self._all: set[Environment] = set()
        self._closed = False
        self._reaper_queue: queue.SimpleQueue[Environment | None] = queue.SimpleQueue()
        self._reaper: threading.Thread | None = None

    # --- public ---------------------------------------------------------------------

    @contextmanager
    def lease(
        self,
        spec: FunctionSpec,
        read_order: int,
        new_environment: Callable[[], Environment],
        start: Starter,
    ) -> Iterator[tuple[Environment, Outcome | None]]:
        """Lend an environment for one request whose ``spec`` was read as the
        ``read_order``-th read (see :mod:`.routing`).

        Yields ``(environment, init_outcome)``; ``init_outcome`` is ``None`` for a
        warm environment, else the outcome of the cold start (when it is not ``ok``
        the environment is already dead). The environment is returned to the pool, or
        killed when it died, timed out or belongs to an older revision.
        """
        env, cold = self._acquire(spec, read_order, new_environment)
        init: Outcome | None = None
        try:
            if cold:
                init = start(env)
                if init.status != "ok":
                    env.kill()
            yield env, init
        finally:
            self._release(spec, env)

    def environments(self) -> list[Environment]:
        """Every live environment (a snapshot)."""
        with self._lock:
            return [env for env in self._all if env.alive]

    def close(self) -> None:
        """Kill every environment and refuse new requests."""
        with self._lock:
            self._closed = True
            victims = list(self._all)
            self._idle.clear()
            reaper, self._reaper = self._reaper, None
        if reaper is not None:
            self._reaper_queue.put(None)
            reaper.join()
        for env in victims:
            env.kill()

    def _reap(self, victims: list[Environment]) -> None:
        """Kill environments off the request path (in a background thread)."""
        if not victims:
            return
        with self._lock:
            if self._closed:
                reaper = None
            else:
                if self._reaper is None:
                    self._reaper = threading.Thread(
                        target=self._run_reaper, name="chaosthundra-reaper", daemon=True
                    )
                    self._reaper.start()
                reaper = self._reaper
        for env in victims:
            if reaper is None:
                env.kill()
            else:
                self._reaper_queue.put(env)

    def _run_reaper(self) -> None:
        while (env := self._reaper_queue.get()) is not None:
            env.kill()

    # --- internals ------------------------------------------------------------------

    def _acquire(
        self, spec: FunctionSpec, read_order: int, new_environment: Callable[[], Environment]
    ) -> tuple[Environment, bool]:
        victims: list[Environment] = []
        try:
            with self._lock:
                if self._closed:
                    raise ApiError(503, "ServiceException", "The sandbox is shutting down.")
                in_flight = self._in_flight.get(spec.function_key, 0)
                limit = spec.reserved_concurrency
                if limit is not None and in_flight >= limit:
                    raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
                victims.extend(self._expire_idle())
                key = (*spec.version_key, spec.fingerprint)
                current = self._current.get(spec.version_key)
                if current is None or read_order > current[0]:
                    if current is not None and current[1] != spec.fingerprint:
                        victims.extend(self._retire(spec))
                    self._current[spec.version_key] = (read_order, spec.fingerprint)
                idle = self._idle.get(key)
                if idle:
                    env = idle.pop()
                    self._in_flight[spec.function_key] = in_flight + 1
                    return env, False
                if len(self._all) >= self.max_environments:
                    evicted = self._evict_one()
                    if evicted is None:
                        raise Throttled("ConcurrentInvocationLimitExceeded")
                    victims.append(evicted)
                self._in_flight[spec.function_key] = in_flight + 1
                env = new_environment()
                self._all.add(env)
                return env, True
        finally:
            self._reap(victims)

    def _release(self, spec: FunctionSpec, env: Environment) -> None:
        kill = False
        with self._lock:
            count = self._in_flight.get(spec.function_key, 1) - 1
            if count:
                self._in_flight[spec.function_key] = count
            else:
                self._in_flight.pop(spec.function_key, None)
            current = self._current.get(spec.version_key, (0, ""))[1] == spec.fingerprint
            if env.alive and current and not self._closed:
                self._idle.setdefault((*spec.version_key, spec.fingerprint), []).append(env)
            else:
                self._all.discard(env)
                kill = True
        if kill:
            if env.alive:
                logger.debug("chaosthundra sandbox: retiring %s of %s", env.id, spec.name)
            self._reap([env])

    def _retire(self, spec: FunctionSpec) -> list[Environment]:
        victims: list[Environment] = []
        for key in [k for k in self._idle if k[:4] == spec.version_key]:
            victims.extend(self._idle.pop(key))
        for env in victims:
            self._all.discard(env)
        if victims:
            logger.debug(
                "chaosthundra sandbox: %s changed, retiring %d idle environment(s)",
                spec.name,
                len(victims),
            )
        return victims

    def _expire_idle(self) -> list[Environment]:
        cutoff = time.monotonic() - self.idle_timeout
        victims: list[Environment] = []
        for key, envs in list(self._idle.items()):
            keep = [env for env in envs if env.last_used >= cutoff and env.alive]
            victims.extend(env for env in envs if env not in keep)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        for env in victims:
            self._all.discard(env)
        return victims

    def _evict_one(self) -> Environment | None:
        oldest: tuple[float, tuple, Environment] | None = None
        for key, envs in self._idle.items():
            for env in envs:
                if oldest is None or env.last_used < oldest[0]:
                    oldest = (env.last_used, key, env)
        if oldest is None:
            return None
        _, key, env = oldest
        self._idle[key].remove(env)
        if not self._idle[key]:
            del self._idle[key]
        self._all.discard(env)
        return env
