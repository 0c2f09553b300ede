"""What every benchmark shares: rows, percentiles, the bench function, timing a child.

Benchmarks reach the sandbox only through public entry points (the ``Sandbox``
class, boto3 against its endpoint, ``chaosthundra.actions``/``probes``, the
``chaos`` CLI), so they keep measuring the same things when the internals change.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional, Sequence

import boto3
from botocore.config import Config

from chaosthundra.sandbox import Sandbox

__all__ = [
    "BENCH_FUNCTION",
    "BENCH_PAYLOAD",
    "BENCH_SOURCE",
    "BENCH_TEMPLATE",
    "cold_vs_import",
    "PROBE_FUNCTION",
    "REPO",
    "force_cold",
    "handler_environment",
    "init_duration",
    "invoke",
    "json_rows",
    "has_update_delay",
    "lambda_client",
    "open_sandbox",
    "pct",
    "row",
    "time_until_line",
]

REPO = Path(__file__).resolve().parents[1]
BENCH_TEMPLATE = Path(__file__).resolve().parent / "bench_function" / "template.yaml"
BENCH_SOURCE = BENCH_TEMPLATE.parent / "src"
BENCH_FUNCTION = "bench-user"
BENCH_PAYLOAD = {"userId": "1"}
PROBE_FUNCTION = "bench-probe"


def row(
    name: str,
    value: Any,
    unit: str,
    goal: Optional[str] = None,
    ok: Optional[bool] = None,
    *,
    rank: Optional[int] = None,
) -> dict[str, Any]:
    """One table row. ``rank`` puts it in the goals table (issue 13), in that order."""
    if isinstance(value, float):
        value = round(value, 3)
    return {"name": name, "value": value, "unit": unit, "goal": goal, "ok": ok, "rank": rank}


def has_update_delay() -> bool:
    """Whether this sandbox can hold Lambda updates InProgress (``update_delay_ms``)."""
    return "update_delay_ms" in inspect.signature(Sandbox).parameters


def open_sandbox(template: Path, update_delay_ms: int = 0) -> Sandbox:
    """A sandbox deploying ``template``, its updates delayed by ``update_delay_ms``
    (explicitly 0 unless asked: the benchmarks' baseline) where the sandbox has one."""
    if has_update_delay():
        return Sandbox(template=template, update_delay_ms=update_delay_ms)
    if update_delay_ms:
        raise RuntimeError("this sandbox has no update delay")
    return Sandbox(template=template)


def pct(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))
    return ordered[int(index)]


def lambda_client(endpoint_url: str, region: str, pool: int = 10) -> Any:
    """A Lambda client for the sandbox that never retries (an invoke runs once)."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, read_timeout=60, max_pool_connections=pool),
    )


def invoke(client: Any, name: str, payload: Any, **kwargs: Any) -> dict[str, Any]:
    """One synchronous invoke whose answer is read; a function error is raised."""
    response = dict(client.invoke(FunctionName=name, Payload=json.dumps(payload), **kwargs))
    response["Payload"] = response["Payload"].read()
    if response.get("FunctionError"):
        raise RuntimeError(f"{name} failed during the benchmark: {response['Payload'][:500]!r}")
    return response


def cold_vs_import(
    box: Sandbox, name: str, code_dir: Path, module: str, payload: Any, count: int
) -> tuple[list[dict[str, Any]], float, float]:
    """``count`` forced cold starts of ``name``, each followed by ``python -c 'import
    module'`` in ``code_dir`` with the function's variables: rows of the medians (cold
    invoke round trip, its Init Duration, the import), the cold invoke median (ms), and
    the median of the per-trial ratios cold / import (paired, so that a load that comes
    and goes during the run weighs on both sides alike)."""
    client = lambda_client(box.endpoint_url, box.region)
    env = handler_environment(client, name, box.endpoint_url, box.region)
    command = [sys.executable, "-c", f"import {module}; print('imported', flush=True)"]
    cold, inits, imports = [], [], []
    for _ in range(count):
        force_cold(client, name)
        started = time.perf_counter()
        response = invoke(client, name, payload, LogType="Tail")
        cold.append((time.perf_counter() - started) * 1000)
        inits.append(init_duration(response))
        imports.append(time_until_line(command, code_dir, env, "imported")[0])
    cold_ms, init_ms, import_ms = (statistics.median(v) for v in (cold, inits, imports))
    ratio = statistics.median(c / i for c, i in zip(cold, imports))
    rows = [
        row(f"cold start invoke round trip ({name}), median of {count}", cold_ms, "ms"),
        row(f"  of which Init Duration ({name})", init_ms, "ms"),
        row(
            f"python -c 'import {module}' (fresh interpreter, this one's site-packages, "
            "the function's variables)",
            import_ms,
            "ms",
        ),
    ]
    return rows, cold_ms, ratio


def init_duration(response: dict[str, Any]) -> float:
    """The ``Init Duration`` (ms) of the REPORT line of an invoke with ``LogType=Tail``."""
    log = base64.b64decode(response["LogResult"]).decode()
    match = re.search(r"Init Duration: ([\d.]+) ms", log)
    if match is None:
        raise RuntimeError("a forced cold start reported no Init Duration")
    return float(match.group(1))


def force_cold(client: Any, name: str) -> None:
    """Change the function's configuration (a nonce variable) and wait until the change
    is live: the next invoke needs a new execution environment."""
    current = client.get_function_configuration(FunctionName=name)
    variables = dict(current.get("Environment", {}).get("Variables", {}))
    variables["BENCH_NONCE"] = uuid.uuid4().hex
    client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 1200}
    )


def handler_environment(client: Any, name: str, endpoint_url: str, region: str) -> dict[str, str]:
    """What a handler needs to be imported outside the sandbox: the function's own
    variables, the endpoint, the region and dummy credentials (never the host's)."""
    variables = client.get_function_configuration(FunctionName=name)
    return {
        **variables.get("Environment", {}).get("Variables", {}),
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": name,
    }


def time_until_line(
    command: list[str], cwd: Path, env: dict[str, str], marker: str, timeout: float = 120
) -> tuple[float, str]:
    """Milliseconds from spawning ``command`` until it prints a line containing
    ``marker`` (its shutdown, long with agent threads, is excluded), and all it printed."""
    started = time.perf_counter()
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        lines = []
        elapsed = None
        for line in proc.stdout:
            lines.append(line)
            if elapsed is None and marker in line:
                elapsed = (time.perf_counter() - started) * 1000
        proc.wait(timeout=timeout)
    output = "".join(lines)
    if elapsed is None:
        raise RuntimeError(f"{command[0]} never printed {marker!r}: {output[-800:]}")
    return elapsed, output


def json_rows(output: str) -> list[dict[str, Any]]:
    """The rows a benchmark child printed as JSON on its last line."""
    return json.loads(output.strip().splitlines()[-1])
