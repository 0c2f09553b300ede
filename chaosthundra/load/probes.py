"""``measure_load``: an SLO probe driven through Locust, locally or across workers.

Locust runs only in child processes (it patches sockets and threads with gevent
when it is imported); this module never imports it. The probe starts a Locust
master (or a local run) with chaosthundra's user class, waits for it to end, and
reads the master's result file and Locust's stats history.
"""

import contextlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosthundra.arguments import bounded_int
from chaosthundra.load.plan import LOCAL_ENV, Plan, locustfile, target_of
from chaosthundra.load.results import summarise
from chaosthundra.targets.invoke import payload_bytes
from chaosthundra.targets.names import resolve as resolve_function

__all__ = ["measure_load"]

logger = logging.getLogger("chaostoolkit")

MAX_USERS = 10_000
MAX_DURATION_S = 6 * 3600
MAX_PROCESSES = 64
MAX_WORKERS = 1000
MAX_WAIT_S = 3600
# Beyond the run itself: Locust's start, the users' stop and the workers' last word.
SLACK_S = 90


def measure_load(
    function_name: str,
    payload: Any = None,
    users: int = 10,
    spawn_rate: float = 10,
    duration: int = 10,
    qualifier: str = None,
    expect_workers: int = 0,
    master_host: str = "127.0.0.1",
    master_port: int = 5557,
    rps: float = None,
    processes: int = 1,
    workers_wait: int = 60,
    stop_timeout: int = 30,
    web_port: int = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Invoke the function under Locust load for `duration` seconds and summarise.

    `users` Locust users (started `spawn_rate` per second) each invoke the function
    (never retried), as fast as answers come or, with `rps`, at that total rate.
    Returns the figures of measure_invocations (`count`, `ok`, `errors`,
    `timeouts`, `throttled`, `service_errors`, `error_ratio`, `p50_ms`, `p95_ms`,
    `p99_ms`, `max_ms`, `rps`, `duration_s`; round trips as Locust rounds them),
    plus `asked_rps` and `rate_reached` (rps at least 95% of asked), `workers`,
    `missing_workers` and `partial` (a worker died or left: its last few seconds
    are not counted), `sent` (invokes the finished workers started), `versions`
    (figures per ExecutedVersion, with `qualifier` an alias or version),
    `failures` (by "verdict: errorType") and `history` (per second: users, rps,
    errors). `expect_workers` 0 runs Locust on this machine (`processes` of
    them); N runs a master on `master_host`:`master_port` that waits up to
    `workers_wait` seconds for N `chaosthundra load-worker` processes. `web_port`
    also serves Locust's web UI on `master_host`. Invokes still running
    `stop_timeout` seconds after the end are cut short and counted as errors.
    """
    if importlib.util.find_spec("locust") is None:  # found, not imported
        raise ActivityFailed(
            "chaosthundra: measure_load needs Locust, which is not installed here: "
            "pip install 'locust>=2.47,<3'."
        )
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    users = bounded_int("users", users, MAX_USERS)
    duration = bounded_int("duration", duration, MAX_DURATION_S)
    processes = bounded_int("processes", processes, MAX_PROCESSES)
    workers_wait = bounded_int("workers_wait", workers_wait, MAX_WAIT_S)
    stop_timeout = bounded_int("stop_timeout", stop_timeout, MAX_WAIT_S)
    master_port = bounded_int("master_port", master_port, 65535)
    spawn_rate = _positive("spawn_rate", spawn_rate)
    asked = None if rps is None else _positive("rps", rps)
    if isinstance(expect_workers, bool) or not isinstance(expect_workers, int):
        raise ActivityFailed(
            f"chaosthundra: expect_workers must be a whole number, got {expect_workers!r}."
        )
    if not 0 <= expect_workers <= MAX_WORKERS:
        raise ActivityFailed(
            f"chaosthundra: expect_workers must be from 0 (run here) to {MAX_WORKERS}, "
            f"got {expect_workers}."
        )
    if expect_workers and processes > 1:
        raise ActivityFailed(
            "chaosthundra: give either expect_workers (a master for load-worker processes) "
            "or processes (local workers), not both."
        )
    if web_port is not None:
        web_port = bounded_int("web_port", web_port, 65535)
    body = payload_bytes(function_name, payload)  # refuse a bad payload before any load
    plan = Plan(
        function_name=function_name,
        payload=body.decode("utf-8"),
        qualifier=qualifier or None,
        users=users,
        duration=duration,
        rps=asked,
        target=target_of(configuration),
    )
    with tempfile.TemporaryDirectory(prefix="chaosthundra-load-") as folder:
        run = Path(folder)
        command = _command(plan, run, spawn_rate, stop_timeout, master_host, web_port)
        if expect_workers:
            command += [
                "--master",
                "--master-bind-host",
                master_host,
                "--master-bind-port",
                str(master_port),
                "--expect-workers",
                str(expect_workers),
                "--expect-workers-max-wait",
                str(workers_wait),
            ]
        elif processes > 1:
            port = str(_free_port())
            command += ["--processes", str(processes), "--master-bind-host", "127.0.0.1"]
            command += ["--master-bind-port", port, "--master-host", "127.0.0.1"]
            command += ["--master-port", port]
        limit = duration + stop_timeout + SLACK_S + (workers_wait if expect_workers else 0)
        env = {**os.environ, LOCAL_ENV: json.dumps(_local(configuration, secrets))}
        logger.info(
            "chaosthundra: Locust load on '%s' for %d s: %d users%s%s",
            function_name,
            duration,
            users,
            f" at {asked:g}/s" if asked else "",
            f", master {master_host}:{master_port} for {expect_workers} workers"
            if expect_workers
            else "",
        )
        code = _run(command, env, limit, run / "locust.log")
        record = _read(run / "results.json")
        if not record or not record.get("final"):
            raise _failed(
                record,
                code,
                run / "locust.log",
                expect_workers,
                master_host,
                master_port,
                workers_wait,
            )
        summary = summarise(
            record,
            _text(run / "load_stats_history.csv"),
            asked_rps=asked,
            expect_workers=expect_workers,
        )
    summary.update(users=users, spawn_rate=spawn_rate, asked_duration_s=duration)
    if summary["partial"]:
        logger.warning(
            "chaosthundra: partial load figures for '%s': workers missing %s; %d invokes recorded",
            function_name,
            summary["missing_workers"] or "none",
            summary["count"],
        )
    if summary["rate_reached"] is False:
        logger.warning(
            "chaosthundra: asked for %g invokes/s, reached %g/s", asked, summary["rps"] or 0
        )
    return summary


# ------------------------------------------------------------------ internals
def _command(
    plan: Plan,
    run: Path,
    spawn_rate: float,
    stop_timeout: int,
    web_host: str,
    web_port: Optional[int],
) -> list[str]:
    """Locust's command line; the run ends after the plan's duration (see locustfile)."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfile(),
        "-u",
        str(plan.users),
        "-r",
        f"{spawn_rate:g}",
        "--stop-timeout",
        str(stop_timeout),
        "--csv",
        str(run / "load"),
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--logfile",
        str(run / "locust.log"),
        "--chaosthundra-plan",
        plan.to_json(),
        "--chaosthundra-results",
        str(run / "results.json"),
    ]
    if web_port is None:
        return command + ["--headless"]
    return command + ["--autostart", "--web-host", web_host, "--web-port", str(web_port)]


def _run(command: list[str], env: dict, limit: float, log: Path) -> int:
    """Run Locust in its own session; on a timeout or an interrupt, end it and every
    process it forked."""
    child = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, stderr = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _end(child)
        raise ActivityFailed(
            f"chaosthundra: Locust did not finish within {limit:.0f} s and was stopped. "
            f"Its log ends: {_tail(log)}"
        ) from None
    except BaseException:
        _end(child)
        raise
    if stderr.strip():
        with open(log, "ab") as out:
            out.write(stderr)
    return child.returncode


def _end(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _failed(
    record: Optional[dict],
    code: int,
    log: Path,
    expect_workers: int,
    host: str,
    port: int,
    wait: int,
) -> ActivityFailed:
    joined = len((record or {}).get("joined") or [])
    if expect_workers and joined < expect_workers:
        return ActivityFailed(
            f"chaosthundra: {joined} of {expect_workers} Locust workers joined the master on "
            f"{host}:{port} within {wait} s, so no load was sent. Start them with "
            f"`chaosthundra load-worker --master-host <this host> --master-port {port}`, "
            "or raise workers_wait."
        )
    return ActivityFailed(f"chaosthundra: Locust exited with {code} without results: {_tail(log)}")


def _local(configuration: Configuration, secrets: Secrets) -> dict:
    return {"configuration": dict(configuration or {}), "secrets": dict(secrets or {})}


def _read(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _tail(log: Path, lines: int = 6) -> str:
    text = _text(log).strip().splitlines()
    return " | ".join(text[-lines:]) or "(no log)"


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ActivityFailed(f"chaosthundra: {name} must be a number above 0, got {value!r}.")
    return float(value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
