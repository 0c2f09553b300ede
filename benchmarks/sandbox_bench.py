"""Benchmark of the embedded sandbox, measured side by side in one run.

- warm invoke round trip (boto3 ``invoke`` against the sandbox) vs a direct
  in-process call of the same handler: the overhead at p50 should be <= 3 ms;
- cold start (an invoke that must start a new environment) vs
  ``python -c 'import handler_module'`` run with the function's variables, for a
  trivial handler (the realistic one is in :mod:`benchmarks.realistic_bench`);
- the cold start of the same trivial handler deployed as python3.11, 3.12 and 3.13,
  each on its own interpreter (a Runtime with none here gets no row);
- invokes per second at concurrency 1, 8 and 32;
- invokes per second through measure_invocations and measure_load (1 and 2 Locust
  processes) on the same function (:mod:`benchmarks.load_bench`).

The sandbox runs in this process, as it does under ``chaos run`` with the control:
the boto3 clients share the interpreter (and its GIL) with the server. Everything is
on loopback, counts are bounded. Run: ``python -m benchmarks.sandbox_bench``.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from chaosthundra import runtimes
from chaosthundra.sandbox import Sandbox

from . import load_bench
from .common import (
    cold_vs_import,
    force_cold,
    init_duration,
    invoke,
    lambda_client,
    open_sandbox,
    pct,
    row,
)

__all__ = ["run"]

WARM_CALLS = 200
COLD_STARTS = 10
THROUGHPUT_CALLS = {1: 200, 8: 400, 32: 640}
FUNCTION = "bench-trivial"
MODULE = "bench_trivial"
PER_RUNTIME = ("python3.11", "python3.12", "python3.13")

TRIVIAL = """\
def handler(event, context):
    return {"ok": True, "n": event.get("n")}
"""

TEMPLATE = """\
Globals:
  Function: {Runtime: python3.11, Timeout: 30, MemorySize: 128}
Resources:
  Trivial:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: bench-trivial, CodeUri: trivial/, Handler: bench_trivial.handler}
"""


class _Context:
    """A stand-in context for the direct call."""

    function_name = FUNCTION
    aws_request_id = "direct"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def _time(call: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def _write_function(root: Path) -> Path:
    (root / "trivial").mkdir()
    (root / "trivial" / f"{MODULE}.py").write_text(TRIVIAL)
    template = root / "template.yaml"
    template.write_text(TEMPLATE)
    return template


def _invoke(client: Any, name: str, n: int = 0) -> dict[str, Any]:
    return invoke(client, name, {"n": n})


def _throughput(box: Sandbox, concurrency: int, calls: int) -> float:
    client = lambda_client(box.endpoint_url, box.region, pool=concurrency + 2)
    per_thread = calls // concurrency
    with ThreadPoolExecutor(concurrency) as pool:
        # Warm up one environment per thread (they run side by side).
        list(pool.map(lambda _: _invoke(client, FUNCTION), range(concurrency)))
        started = time.perf_counter()
        futures = [
            pool.submit(lambda: [_invoke(client, FUNCTION, i) for i in range(per_thread)])
            for _ in range(concurrency)
        ]
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - started
    return per_thread * concurrency / elapsed


def _cold_per_runtime(box: Sandbox, client: Any) -> list[dict[str, Any]]:
    """Median cold start (round trip and Init Duration) of the trivial handler deployed
    as each of :data:`PER_RUNTIME`, on that runtime's interpreter."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{MODULE}.py", TRIVIAL)
    role = client.get_function_configuration(FunctionName=FUNCTION)["Role"]
    rows = []
    for runtime in PER_RUNTIME:
        if runtimes.interpreter(runtime) is None:
            continue
        name = f"{FUNCTION}-{runtime.replace('.', '')}"
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler=f"{MODULE}.handler",
            Code={"ZipFile": buffer.getvalue()},
            Timeout=30,
        )
        client.get_waiter("function_active_v2").wait(FunctionName=name)
        _invoke(client, name)  # the runtime's folder and template are prepared once
        cold, inits = [], []
        for _ in range(COLD_STARTS):
            force_cold(client, name)
            started = time.perf_counter()
            response = invoke(client, name, {"n": 0}, LogType="Tail")
            cold.append((time.perf_counter() - started) * 1000)
            inits.append(init_duration(response))
        rows.append(
            row(
                f"cold start invoke round trip, trivial handler on {runtime}, "
                f"median of {COLD_STARTS} (Init Duration {statistics.median(inits):.1f} ms)",
                statistics.median(cold),
                "ms",
            )
        )
    return rows


def run() -> list[dict[str, Any]]:
    """Measure everything; one row per figure."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chaosthundra-bench-") as tmp:
        root = Path(tmp)
        template = _write_function(root)
        with open_sandbox(template) as box:
            client = lambda_client(box.endpoint_url, box.region)

            # Warm round trip vs a direct in-process call of the same handler.
            namespace: dict[str, Any] = {}
            exec(TRIVIAL, namespace)  # the handler's own code, called directly
            handler = namespace["handler"]
            _invoke(client, FUNCTION)
            warm = [_time(_invoke, client, FUNCTION, i) for i in range(WARM_CALLS)]
            context = _Context()

            def direct_call(n: int) -> str:
                # What the worker does around the handler: decode, call, encode.
                event = json.loads(json.dumps({"n": n}))
                return json.dumps(handler(event, context))

            direct = [_time(direct_call, i) for i in range(WARM_CALLS)]
            overhead = statistics.median(warm) - statistics.median(direct)
            rows += [
                row("warm invoke p50 (trivial)", pct(warm, 50), "ms"),
                row("warm invoke p95 (trivial)", pct(warm, 95), "ms"),
                row("direct call p50", pct(direct, 50), "ms"),
                row("direct call p95", pct(direct, 95), "ms"),
                row(
                    "warm invoke overhead p50 (round trip - direct call, trivial handler)",
                    overhead,
                    "ms",
                    "<= 3 ms",
                    overhead <= 3,
                    rank=6,
                ),
            ]
            cold_rows, _, ratio = cold_vs_import(
                box, FUNCTION, root / "trivial", MODULE, {"n": 0}, COLD_STARTS
            )
            rows += cold_rows
            rows.append(
                row("cold invoke/import ratio (trivial), median of paired trials", ratio, "x")
            )
            for concurrency, calls in THROUGHPUT_CALLS.items():
                rate = _throughput(box, concurrency, calls)
                rows.append(row(f"invokes/s at concurrency {concurrency}", rate, "1/s"))
            rows += _cold_per_runtime(box, client)
            rows += load_bench.run_on(box, FUNCTION)
    return rows


if __name__ == "__main__":
    for measured in run():
        print(measured)
