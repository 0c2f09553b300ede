"""Benchmarks of fault injection itself, on the embedded sandbox, in one run.

(Time to effect, on the realistic function, is in :mod:`benchmarks.realistic_bench`.)

- latency-injection fidelity: the extra latency observed on the Redis GET inside
  the handler minus the configured delay (50, 200, 1000 ms), p50 and p95;
- error-injection exactness: injected errors over 100 invokes against 1/every;
- Thundra agent overhead per warm invoke: no agent / agent without listener /
  agent with a listener whose filter matches nothing;
- `chaos run` wall time per experiment, minus the injected delays (fixed overhead).

Counts are bounded and everything stays on loopback.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from chaosthundra import actions
from chaosthundra.probes import invoke_function
from chaosthundra.sandbox import Sandbox

from .common import REPO, pct, row

__all__ = ["chaos_runs", "run"]

CHAOS_RUN_GOAL_S = 2.0


def _failed(outcome: dict) -> bool:
    return bool(outcome["function_error"])


def _get_ms(cfg: dict) -> float:
    return invoke_function("bench-agent", configuration=cfg)["payload"]["get_ms"]


def _latency_fidelity(cfg: dict) -> list[dict]:
    baseline = [_get_ms(cfg) for _ in range(30)]
    base = statistics.median(baseline)
    rows = []
    for delay, samples in ((50, 40), (200, 30), (1000, 10)):
        actions.enable_latency_injection(
            "bench-agent", delay=delay, class_name="Redis", configuration=cfg
        )
        _get_ms(cfg)  # the cold start after the change is not a sample
        errors = [_get_ms(cfg) - base - delay for _ in range(samples)]
        actions.disable_latency_injection("bench-agent", configuration=cfg)
        bound = max(5.0, 0.02 * delay)
        p50, p95 = pct(errors, 50), pct(errors, 95)
        rows.append(
            row(
                f"latency fidelity {delay} ms: observed extra - configured, p50 / p95",
                f"{p50:+.2f} / {p95:+.2f}",
                "ms",
                f"abs(p95) <= {bound:.0f} ms",
                abs(p95) <= bound,
            )
        )
    return rows


def _error_exactness(cfg: dict, every: int = 4, count: int = 100) -> list[dict]:
    actions.enable_error_injection(
        "bench-agent",
        error_type="redis.ConnectionError",
        class_name="Redis",
        every=every,
        configuration=cfg,
    )
    failed = sum(_failed(invoke_function("bench-agent", configuration=cfg)) for _ in range(count))
    actions.disable_error_injection("bench-agent", configuration=cfg)
    return [
        row(
            f"error exactness: injected errors / {count} invokes (every={every})",
            f"{failed}/{count} = {failed / count:.3f}",
            "",
            f"= 1/{every} = {1 / every:.3f}",
            failed / count == 1 / every,
        )
    ]


def _warm_p50(name: str, cfg: dict, calls: int = 150) -> float:
    invoke_function(name, configuration=cfg)  # cold start excluded
    return pct([invoke_function(name, configuration=cfg)["duration_ms"] for _ in range(calls)], 50)


def _agent_overhead(cfg: dict) -> list[dict]:
    plain = _warm_p50("bench-plain", cfg)
    agent = _warm_p50("bench-agent", cfg)
    actions.enable_error_injection("bench-agent", class_name="HTTP", configuration=cfg)
    listening = _warm_p50("bench-agent", cfg)
    actions.disable_error_injection("bench-agent", configuration=cfg)
    return [
        row("warm invoke p50: no agent", f"{plain:.2f}", "ms"),
        row("warm invoke p50: agent, no listener", f"{agent:.2f} ({agent - plain:+.2f})", "ms"),
        row(
            "warm invoke p50: agent, non-matching listener",
            f"{listening:.2f} ({listening - plain:+.2f})",
            "ms",
        ),
    ]


def _chaos_run(experiment: str, function: str) -> tuple[float, dict]:
    """One `chaos run` in a subprocess: its wall time (s) and its journal."""
    with tempfile.TemporaryDirectory() as tmp:
        journal_path = Path(tmp) / "journal.json"
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("chaos")),
                "--log-file",
                f"{tmp}/log",
                "run",
                "--journal-path",
                str(journal_path),
                "--var",
                f"function_name={function}",
                str(REPO / "experiments" / experiment),
            ],
            cwd=REPO,
            # The baseline has no update delay, whatever this shell says.
            env=dict(os.environ, CHAOSTHUNDRA_SANDBOX_UPDATE_DELAY_MS="0"),
            capture_output=True,
            timeout=300,
            check=False,
        )
        wall = time.perf_counter() - started
        return wall, json.loads(journal_path.read_text())


def chaos_runs() -> list[dict]:
    """Wall time of `chaos run` per experiment, and the same minus the injected delays
    (the median run of ``runs``), with where the time of that run goes."""
    rows = []
    # The first run of the bench reads chaoslib, moto and botocore back from disk where
    # the kernel paged them out (this machine's DAMON reclaims files idle for a minute):
    # it is shown, not counted.
    first, _ = _chaos_run("redis-failure.json", "user-get-naive")
    for experiment, function, runs, rank in (
        ("redis-failure.json", "user-get-naive", 5, 4),
        ("upstream-latency.json", "caller-naive", 1, None),
    ):
        measured = sorted(
            (wall - _injected_seconds(journal), wall, journal)
            for wall, journal in (_chaos_run(experiment, function) for _ in range(runs))
        )
        overhead, wall, journal = measured[len(measured) // 2]
        status = "deviated" if journal.get("deviated") else journal["status"]
        spread = f" (of {runs}: {measured[0][0]:.2f} to {measured[-1][0]:.2f})" if runs > 1 else ""
        if rank is not None:
            spread += f"; the bench's first run, not counted: {first:.2f}"
        rows.append(
            row(
                f"chaos run {experiment} ({function}, {status}): wall / minus injected delays"
                + (f", median run of {runs} after one more" if runs > 1 else ""),
                f"{wall:.2f} / {overhead:.2f}{spread}",
                "s",
                f"<= {CHAOS_RUN_GOAL_S:.0f} s fixed overhead",
                overhead <= CHAOS_RUN_GOAL_S,
                rank=rank,
            )
        )
        rows.append(
            row(f"  where the time of that run goes ({experiment})", _parts(journal, wall), "s")
        )
    return rows


def _parts(journal: dict, wall: float) -> str:
    """The wall time of one `chaos run`, split by its journal."""

    def at(stamp: str) -> float:
        return datetime.fromisoformat(stamp).timestamp()

    def total(records: list) -> float:
        return sum(r["duration"] for r in records)

    before = (journal["steady_states"].get("before") or {}).get("probes", [])
    after = (journal["steady_states"].get("after") or {}).get("probes", [])
    method, rollbacks = journal.get("run", []), journal.get("rollbacks", [])
    activities = before + method + after + rollbacks
    first = min((at(r["start"]) for r in activities), default=at(journal["end"]))
    actions = [r for r in method if r["activity"]["type"] == "action"]
    return (
        f"outside the run (interpreter, imports, validation, exit) {wall - journal['duration']:.2f}"
        f"; run start to first activity (sandbox start, deploy) {first - at(journal['start']):.2f}"
        f"; hypothesis before {total(before):.2f}"
        f"; method {total(method):.2f} (actions {total(actions):.2f})"
        f"; hypothesis after and rollbacks {total(after) + total(rollbacks):.2f}"
    )


def _injected_seconds(journal: dict) -> float:
    """Time the invokes after the enable spent inside injected delays (capped by duration)."""
    delay = 0.0
    for record in journal.get("run", []):
        out = record.get("output")
        if isinstance(out, dict) and out.get("kind") == "latency" and "listener" in out:
            delay = out["listener"]["config"]["listener"]["config"]["delay"] / 1000.0
    if not delay:
        return 0.0
    after = [p for p in journal["run"][1:]] + (journal["steady_states"].get("after") or {}).get(
        "probes", []
    )
    return sum(
        min(delay, r["output"]["duration_ms"] / 1000.0)
        for r in after
        if isinstance(r.get("output"), dict) and "duration_ms" in r["output"]
    )


def run(box: Sandbox) -> list[dict]:
    """Every in-sandbox row of this benchmark, measured now in ``box`` (which deployed
    ``bench_function/template.yaml``: bench-agent and bench-plain)."""
    cfg = box.configuration()
    invoke_function("bench-agent", configuration=cfg)
    rows = []
    rows += _latency_fidelity(cfg)
    rows += _error_exactness(cfg)
    rows += _agent_overhead(cfg)
    return rows
