"""Invokes per second through each harness, side by side, on one sandbox function:
``measure_invocations`` (a thread pool in this process) and ``measure_load`` (Locust in
child processes) with 1 and 2 worker processes; and the CPU time the Locust processes
spent per invoke (the harness's own cost; they are this process's only children that
exit, so ``RUSAGE_CHILDREN`` counts them and nothing else).

Not a race: the sandbox shares this machine's cores with the harness. Loopback only,
bounded in count and time.
"""

from __future__ import annotations

import resource
from typing import Any

from chaosthundra.load.probes import measure_load
from chaosthundra.probes import measure_invocations

from .common import row

__all__ = ["run_on"]

CONCURRENCY = 16  # threads, or Locust users
INVOKES = 800
SECONDS = 5


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_on(box: Any, function_name: str) -> list[dict[str, Any]]:
    """The rows, against ``function_name`` in the running sandbox ``box``."""
    configuration = box.configuration()
    threads = measure_invocations(
        function_name, {}, count=INVOKES, concurrency=CONCURRENCY, configuration=configuration
    )
    rows = [
        row(
            f"most invokes/s through measure_invocations ({CONCURRENCY} threads, "
            f"{INVOKES} invokes)",
            threads["rps"],
            "1/s",
        )
    ]
    for processes in (1, 2):
        before = _children_cpu_s()
        load = measure_load(
            function_name,
            {},
            users=CONCURRENCY,
            spawn_rate=CONCURRENCY,
            duration=SECONDS,
            processes=processes,
            configuration=configuration,
        )
        cpu_ms = (_children_cpu_s() - before) * 1000.0
        label = f"{processes} Locust process{'es' if processes > 1 else ''}"
        rows += [
            row(
                f"most invokes/s through measure_load ({label}, {CONCURRENCY} users, "
                f"{SECONDS} s; {load['count']} invokes{', PARTIAL' if load['partial'] else ''})",
                load["rps"],
                "1/s",
            ),
            row(
                f"Locust CPU per invoke, measure_load with {label} (start-up included)",
                cpu_ms / max(load["count"], 1),
                "ms",
            ),
        ]
    return rows
