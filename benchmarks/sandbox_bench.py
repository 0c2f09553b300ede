"""Benchmark of the embedded sandbox, measured side by side in one run.

- warm invoke round trip (boto3 ``invoke`` against the sandbox) vs a direct
  in-process call of the same handler: the overhead at p50 should be <= 15 ms;
- cold start (an invoke that must start a new environment) vs
  ``python -c 'import handler_module'`` run with the same environment variables as a
  worker: the ratio should be <= 1.3, for a trivial handler and for a
  Thundra-wrapped handler that uses Redis;
- invokes per second at concurrency 1, 8 and 32.

The sandbox runs in this process, as it does under ``chaos run`` with the control:
the boto3 clients share the interpreter (and its GIL) with the server. Everything is
on loopback, counts are bounded. Run: ``python -m benchmarks.sandbox_bench``.
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional

import boto3
from botocore.config import Config

from chaosthundra.sandbox import Sandbox, moto_state
from chaosthundra.sandbox.environment import worker_environment
from chaosthundra.sandbox.template import ACCOUNT_ID

__all__ = ["run"]

WARM_CALLS = 200
COLD_STARTS = 10
THROUGHPUT_CALLS = {1: 200, 8: 400, 32: 640}

TRIVIAL = """\
def handler(event, context):
    return {"ok": True, "n": event.get("n")}
"""

THUNDRA = """\
import os

import redis
from thundra.thundra_agent import Thundra

thundra = Thundra(api_key="bench")
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@thundra
def handler(event, context):
    cache.set("bench", "1")
    return {"ok": True, "n": event.get("n")}
"""

TEMPLATE = """\
Parameters:
  RedisUrl: {Type: String}
Globals:
  Function: {Runtime: python3.11, Timeout: 30, MemorySize: 128}
Resources:
  Trivial:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: bench-trivial, CodeUri: trivial/, Handler: bench_trivial.handler}
  Thundra:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: bench-thundra
      CodeUri: thundra/
      Handler: bench_thundra.handler
      Environment: {Variables: {REDIS_URL: !Ref RedisUrl}}
"""


class _Context:
    """A stand-in context for the direct call."""

    function_name = "bench-trivial"
    aws_request_id = "direct"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _row(
    name: str, value: float, unit: str, goal: Optional[str] = None, ok: Optional[bool] = None
) -> dict[str, Any]:
    return {"name": name, "value": round(value, 3), "unit": unit, "goal": goal, "ok": ok}


def _time(call: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def _write_functions(root: Path) -> Path:
    (root / "trivial").mkdir()
    (root / "trivial" / "bench_trivial.py").write_text(TRIVIAL)
    (root / "thundra").mkdir()
    (root / "thundra" / "bench_thundra.py").write_text(THUNDRA)
    template = root / "template.yaml"
    template.write_text(TEMPLATE)
    return template


def _client(box: Sandbox, pool: int = 10) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=box.endpoint_url,
        region_name=box.region,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, read_timeout=60, max_pool_connections=pool),
    )


def _invoke(client: Any, name: str, n: int = 0, **kwargs: Any) -> dict[str, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps({"n": n}), **kwargs)
    response["Payload"].read()
    if response.get("FunctionError"):
        raise RuntimeError(f"{name} failed during the benchmark")
    return dict(response)


def _init_duration(response: dict[str, Any]) -> float:
    """The ``Init Duration`` of the REPORT line (spawn + import, as the sandbox saw it)."""
    log = base64.b64decode(response["LogResult"]).decode()
    match = re.search(r"Init Duration: ([\d.]+) ms", log)
    if match is None:
        raise RuntimeError("a forced cold start reported no Init Duration")
    return float(match.group(1))


def _force_cold(client: Any, name: str, variables: dict[str, str]) -> None:
    """Change the configuration: the next invoke needs a new environment."""
    env = dict(variables, BENCH_NONCE=uuid.uuid4().hex)
    client.update_function_configuration(FunctionName=name, Environment={"Variables": env})
    client.get_waiter("function_updated_v2").wait(FunctionName=name)


def _worker_like_env(box: Sandbox, name: str, code_dir: Path) -> dict[str, str]:
    """The environment a worker of ``name`` gets, so that both sides import alike."""
    _, spec = moto_state.find_function(ACCOUNT_ID, box.region, name, None)
    return worker_environment(
        spec,
        task_root=code_dir,
        log_stream="bench",
        endpoint_url=box.endpoint_url,
        home=code_dir,
    )


def _cold_vs_import(
    box: Sandbox, client: Any, name: str, module: str, code_dir: Path, variables: dict[str, str]
) -> tuple[float, float, float]:
    """Medians of: cold invoke round trip, its Init Duration, the import baseline."""
    cold, inits, imports = [], [], []
    for _ in range(COLD_STARTS):
        _force_cold(client, name, variables)
        started = time.perf_counter()
        response = _invoke(client, name, LogType="Tail")
        cold.append((time.perf_counter() - started) * 1000)
        inits.append(_init_duration(response))
        env = _worker_like_env(box, name, code_dir)
        imports.append(_import_time(module, code_dir, env))
    return statistics.median(cold), statistics.median(inits), statistics.median(imports)


def _import_time(module: str, code_dir: Path, env: dict[str, str]) -> float:
    """Milliseconds from spawning ``python -c 'import module'`` until the import is
    done (interpreter shutdown, which can be long with agent threads, is excluded)."""
    command = [sys.executable, "-c", f"import {module}; print('imported', flush=True)"]
    started = time.perf_counter()
    with subprocess.Popen(command, cwd=code_dir, env=env, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = (time.perf_counter() - started) * 1000
        proc.wait()
    if line.strip() != b"imported":
        raise RuntimeError(f"python -c 'import {module}' failed")
    return elapsed


def _throughput(box: Sandbox, name: str, concurrency: int, calls: int) -> float:
    client = _client(box, pool=concurrency + 2)
    per_thread = calls // concurrency
    with ThreadPoolExecutor(concurrency) as pool:
        # Warm up one environment per thread (they run side by side).
        list(pool.map(lambda _: _invoke(client, name), range(concurrency)))
        started = time.perf_counter()
        futures = [
            pool.submit(lambda: [_invoke(client, name, i) for i in range(per_thread)])
            for _ in range(concurrency)
        ]
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - started
    return per_thread * concurrency / elapsed


def run() -> list[dict[str, Any]]:
    """Measure everything; one row per figure."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chaosthundra-bench-") as tmp:
        root = Path(tmp)
        template = _write_functions(root)
        with Sandbox(template=template) as box:
            client = _client(box)

            # Warm round trip vs a direct in-process call of the same handler.
            sys.path.insert(0, str(root / "trivial"))
            try:
                import bench_trivial  # type: ignore[import-not-found]
            finally:
                sys.path.remove(str(root / "trivial"))
            _invoke(client, "bench-trivial")
            warm = [_time(_invoke, client, "bench-trivial", i) for i in range(WARM_CALLS)]
            context = _Context()

            def direct_call(n: int) -> str:
                # What the worker does around the handler: decode, call, encode.
                event = json.loads(json.dumps({"n": n}))
                return json.dumps(bench_trivial.handler(event, context))

            direct = [_time(direct_call, i) for i in range(WARM_CALLS)]
            overhead = statistics.median(warm) - statistics.median(direct)
            rows += [
                _row("warm invoke p50", _percentile(warm, 50), "ms"),
                _row("warm invoke p95", _percentile(warm, 95), "ms"),
                _row("direct call p50", _percentile(direct, 50), "ms"),
                _row("direct call p95", _percentile(direct, 95), "ms"),
                _row("invoke overhead p50", overhead, "ms", "<= 15 ms", overhead <= 15),
            ]

            # Cold start vs importing the handler module in a fresh interpreter.
            for name, module, code_dir, variables in (
                ("bench-trivial", "bench_trivial", root / "trivial", {}),
                ("bench-thundra", "bench_thundra", root / "thundra", {"REDIS_URL": box.redis_url}),
            ):
                cold, init, imported = _cold_vs_import(
                    box, client, name, module, code_dir, variables
                )
                ratio = cold / imported
                label = name.removeprefix("bench-")
                rows += [
                    _row(f"cold start invoke round trip ({label})", cold, "ms"),
                    _row(f"  of which Init Duration ({label})", init, "ms"),
                    _row(f"python -c 'import {module}'", imported, "ms"),
                    _row(f"cold invoke/import ratio ({label})", ratio, "x", "<= 1.3", ratio <= 1.3),
                    _row(f"init/import ratio ({label})", init / imported, "x"),
                ]

            # Throughput of warm environments.
            for concurrency, calls in THROUGHPUT_CALLS.items():
                rate = _throughput(box, "bench-trivial", concurrency, calls)
                rows.append(_row(f"invokes/s at concurrency {concurrency}", rate, "1/s"))
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    width = max(len(row["name"]) for row in rows)
    print(f"{'measure':<{width}}  {'value':>10}  {'unit':<4}  {'goal':<9}  ok")
    for row in rows:
        ok = "" if row["ok"] is None else ("yes" if row["ok"] else "NO")
        goal = row["goal"] or ""
        print(f"{row['name']:<{width}}  {row['value']:>10.2f}  {row['unit']:<4}  {goal:<9}  {ok}")


if __name__ == "__main__":
    _print(run())
