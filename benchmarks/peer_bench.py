"""Side by side with a peer: ``python-lambda-local`` (PyPI, the ``bench`` extra) runs
the same handler as the sandbox.

- cold invoke: the sandbox's invoke that starts a new environment, against one
  ``python-lambda-local`` command (spawn until its RESULT line);
- warm invoke: the sandbox's invoke of a warm environment, against
  ``lambda_local.main.call`` of the handler already imported (python-lambda-local
  has no warm mode of its own; ``call`` still forks a process per invoke);
- what each enforces, found by trying it with the ``bench-probe`` function: a
  timeout (a handler that sleeps past it, plainly and inside ``except Exception``),
  environment isolation (a variable set only in the host process), the log tail
  (10 KB of output).
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chaosthundra.sandbox import Sandbox

from .common import (
    BENCH_FUNCTION,
    BENCH_PAYLOAD,
    BENCH_SOURCE,
    PROBE_FUNCTION,
    handler_environment,
    invoke,
    lambda_client,
    pct,
    row,
    time_until_line,
)

__all__ = ["run"]

PEER = "python-lambda-local"
COLD_RUNS = 5
WARM_CALLS = 50
HOST_ONLY = "BENCH_HOST_ONLY"
PROBE_SOURCE = BENCH_SOURCE.parent / "probe" / "bench_probe.py"
PROBE_TIMEOUT_S = 1  # bench-probe's Timeout in the template

_WARM_DRIVER = """\
import json, sys, time
from lambda_local.context import Context
from lambda_local.main import call
import bench_user
event, calls, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
times = []
for _ in range(calls + 1):
    started = time.perf_counter()
    result, error = call(bench_user.handler, event, Context(10))
    times.append((time.perf_counter() - started) * 1000)
    if error is not None:
        raise SystemExit(f"the handler failed under python-lambda-local: {result}")
with open(out, "w") as f:
    json.dump(times[1:], f)
"""


class _Peer:
    """Runs handlers under python-lambda-local, as a user would from a shell."""

    def __init__(self, workdir: Path, variables: dict[str, str]) -> None:
        self.workdir = workdir
        self.variables = variables
        self.env_file = workdir / "env.json"
        self.env_file.write_text(json.dumps(variables))
        # The shell it runs from: the host's environment, plus one host-only variable.
        self.process_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{HOST_ONLY: "host"})
        self.command = str(Path(sys.executable).with_name(PEER))

    def run(self, source: Path, event: Any, timeout_s: int = 10) -> tuple[float, str]:
        """One cold invoke: milliseconds until the RESULT line, and everything printed."""
        event_file = self.workdir / "event.json"
        event_file.write_text(json.dumps(event))
        command = [self.command, "-f", "handler", "-t", str(timeout_s), "-e", str(self.env_file)]
        return time_until_line(
            command + [str(source), str(event_file)], source.parent, self.process_env, "RESULT:"
        )

    def warm(self, calls: int) -> list[float]:
        """Milliseconds per ``lambda_local.main.call`` of the imported handler."""
        out = self.workdir / "warm.json"
        command = [sys.executable, "-c", _WARM_DRIVER, json.dumps(BENCH_PAYLOAD), str(calls)]
        time_until_line(command + [str(out)], BENCH_SOURCE, self.variables, "RESULT:", timeout=300)
        return json.loads(out.read_text())


def _result(output: str) -> str:
    """What python-lambda-local printed after RESULT:."""
    return output.split("RESULT:", 1)[1].strip().splitlines()[0]


def _speed(box: Sandbox, peer: _Peer, sandbox_cold_ms: float) -> list[dict]:
    client = lambda_client(box.endpoint_url, box.region)

    def invoke_ms() -> float:
        started = time.perf_counter()
        invoke(client, BENCH_FUNCTION, BENCH_PAYLOAD)
        return (time.perf_counter() - started) * 1000

    invoke_ms()
    sandbox_warm = pct([invoke_ms() for _ in range(WARM_CALLS)], 50)
    cold_runs = [peer.run(BENCH_SOURCE / "bench_user.py", BENCH_PAYLOAD) for _ in range(COLD_RUNS)]
    for _, output in cold_runs:
        if "'userId'" not in _result(output):
            raise RuntimeError(f"{BENCH_FUNCTION} failed under {PEER}: {output[-800:]}")
    peer_cold = statistics.median(ms for ms, _ in cold_runs)
    peer_warm = pct(peer.warm(WARM_CALLS), 50)
    return [
        row(
            f"peer: cold invoke of {BENCH_FUNCTION}, {PEER} / sandbox (medians)",
            f"{peer_cold:.0f} / {sandbox_cold_ms:.0f} = {peer_cold / sandbox_cold_ms:.2f}",
            "ms, x",
        ),
        row(
            f"peer: warm invoke of {BENCH_FUNCTION}, {PEER} / sandbox (p50 of {WARM_CALLS})",
            f"{peer_warm:.1f} / {sandbox_warm:.1f} = {peer_warm / sandbox_warm:.2f}",
            "ms, x",
        ),
    ]


def _sandbox_probe(box: Sandbox, event: dict) -> dict:
    client = lambda_client(box.endpoint_url, box.region)
    response = client.invoke(FunctionName=PROBE_FUNCTION, Payload=json.dumps(event), LogType="Tail")
    return {
        "payload": json.loads(response["Payload"].read() or b"null"),
        "error": response.get("FunctionError"),
        "tail": base64.b64decode(response.get("LogResult") or "").decode(errors="replace"),
    }


def _timeout(box: Sandbox, peer: _Peer, catch: bool) -> dict:
    event = {"sleep": 3 * PROBE_TIMEOUT_S, "catch": catch}
    started = time.perf_counter()
    answer = _sandbox_probe(box, event)
    sandbox_s = time.perf_counter() - started
    timed_out = "Task timed out" in json.dumps(answer["payload"])
    ours = f"{'stopped' if timed_out else 'NOT stopped'} after {sandbox_s:.1f} s"
    started = time.perf_counter()
    _, output = peer.run(PROBE_SOURCE, event, PROBE_TIMEOUT_S)
    peer_s = time.perf_counter() - started
    result = _result(output)
    stopped = "Timeout after" in result and "caught" not in result
    theirs = f"{'stopped' if stopped else 'NOT stopped'} after {peer_s:.1f} s ({result[:60]})"
    how = "inside `except Exception`" if catch else "plainly"
    return row(
        f"enforces: timeout {PROBE_TIMEOUT_S} s, handler sleeps {3 * PROBE_TIMEOUT_S} s {how}",
        f"sandbox: {ours}; {PEER}: {theirs}",
        "",
    )


def _isolation(box: Sandbox, peer: _Peer) -> dict:
    os.environ[HOST_ONLY] = "host"
    try:
        ours = _sandbox_probe(box, {"getenv": HOST_ONLY})["payload"]
    finally:
        del os.environ[HOST_ONLY]
    theirs = _result(peer.run(PROBE_SOURCE, {"getenv": HOST_ONLY})[1])

    def say(seen: Any) -> str:
        return "sees it" if seen not in (None, "None") else "does not see it"

    return row(
        "enforces: environment isolation (a variable set only in the host process)",
        f"sandbox: handler {say(ours)}; {PEER}: handler {say(theirs)}",
        "",
    )


def _log_tail(box: Sandbox, peer: _Peer) -> dict:
    tail = _sandbox_probe(box, {"print_bytes": 10_000})["tail"]
    ours = (
        f"{len(tail.encode())} B tail returned to the caller, "
        f"first line {'kept' if 'FIRST-LOG-LINE' in tail else 'cut'}, "
        f"last line {'kept' if 'LAST-LOG-LINE' in tail else 'lost'}, "
        f"REPORT {'present' if 'REPORT RequestId' in tail else 'absent'}"
    )
    _, output = peer.run(PROBE_SOURCE, {"print_bytes": 10_000})
    whole = "FIRST-LOG-LINE" in output and "LAST-LOG-LINE" in output
    report = [line for line in output.splitlines() if "REPORT RequestId" in line]
    theirs = (
        f"no tail returned; {'the whole' if whole else 'part of the'} output "
        f"({len(output.encode())} B) on its stdout, REPORT "
        + ("with Duration only" if report and "Init Duration" not in report[0] else "absent")
    )
    return row(
        "enforces: log tail (handler prints 10 KB)", f"sandbox: {ours}; {PEER}: {theirs}", ""
    )


def run(box: Sandbox, sandbox_cold_ms: float) -> list[dict]:
    """The side-by-side rows; ``sandbox_cold_ms`` is the sandbox's cold invoke median."""
    client = lambda_client(box.endpoint_url, box.region)
    variables = handler_environment(client, BENCH_FUNCTION, box.endpoint_url, box.region)
    with tempfile.TemporaryDirectory(prefix="chaosthundra-peer-") as tmp:
        peer = _Peer(Path(tmp), variables)
        rows = _speed(box, peer, sandbox_cold_ms)
        rows.append(_timeout(box, peer, catch=False))
        rows.append(_timeout(box, peer, catch=True))
        rows.append(_isolation(box, peer))
        rows.append(_log_tail(box, peer))
    return rows
