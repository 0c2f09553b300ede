"""chaosthundra's Locust user class: each task is one Lambda Invoke, never retried.

Imported only inside Locust's own processes (``locust -f`` on this path, which
`measure_load` and `chaosthundra load-worker` start): Locust patches sockets and
threads with gevent when it is imported.

Each invoke goes through :func:`chaosthundra.targets.invoke.attempt` and is classed
by :func:`~chaosthundra.targets.invoke.verdict`, as ``measure_invocations`` does.
Locust records it under ``<function>@<ExecutedVersion>`` ("-" when no version
answered: a throttle, a service error, no answer), and a failure is named
``<verdict>: <errorType>``. An invoke cut short by Locust's stop timeout is recorded
as ``error: InvokeInterrupted``: it may have run.

The master (or a local run) writes its result file at the end of the test: the
stats of every request entry, the failures, and which workers joined, finished
(sending their final stats and how many invokes they sent) or went missing.
"""

from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from typing import Any

import gevent
from gevent import GreenletExit
from locust import User, constant, events, task
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner
from locust.user.users import LOCUST_STATE_STOPPING

from chaosthundra.aws import invoke_client
from chaosthundra.load.plan import DONE_MESSAGE, FINISH_MESSAGE, Plan, worker_configuration
from chaosthundra.targets.invoke import attempt, error_type, payload_bytes, verdict

# How long the master waits, beyond the stop timeout, for the last word of workers
# that neither finished nor went missing (a killed worker goes missing within ~4 s).
FINISH_WAIT_S = 10.0
MAX_POOL = 1000

_sent = {"invokes": 0}  # invokes this process started (each one is recorded once)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--chaosthundra-plan", default="", help="The run's plan (JSON).")
    parser.add_argument(
        "--chaosthundra-results", default="", help="Where the master writes its results."
    )


@lru_cache(maxsize=4)
def _prepared(text: str) -> tuple[Plan, bytes, Any]:
    """The plan, its request body and the invoke client, once per process and plan."""
    plan = Plan.from_json(text)
    configuration, secrets = worker_configuration(plan)
    pool = min(MAX_POOL, max(plan.users, 1))
    return (
        plan,
        payload_bytes(plan.function_name, plan.payload),
        invoke_client(configuration, secrets, pool),
    )


class LambdaUser(User):
    """Invokes the plan's function (with its qualifier) again and again, paced to the
    plan's rate when it has one.

    One task runs the whole loop, so the user is never in Locust's waiting state, in
    which a stop kills the greenlet at once (and, when the kill lands just after the
    wait, mid-invoke): asked to stop, the user ends after the invoke under way.
    """

    wait_time = constant(0)

    @task
    def invoke_until_stopped(self) -> None:
        plan, body, lam = _prepared(self.environment.parsed_options.chaosthundra_plan)
        pace = 1.0 / plan.per_user_rps if plan.per_user_rps else 0.0
        next_at = time.monotonic()
        while self._state != LOCUST_STATE_STOPPING:
            if pace:
                gevent.sleep(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at + pace, time.monotonic() - pace)
                if self._state == LOCUST_STATE_STOPPING:
                    break
            self._invoke(plan, body, lam)

    def _invoke(self, plan: Plan, body: bytes, lam: Any) -> None:
        _sent["invokes"] += 1
        started = time.perf_counter()
        try:
            outcome = attempt(lam, plan.function_name, body, plan.qualifier)
        except GreenletExit:  # killed past the stop timeout: it may have run
            elapsed = (time.perf_counter() - started) * 1000.0
            self._record(plan, "-", elapsed, "error: InvokeInterrupted")
            raise
        kind = verdict(outcome)
        failure = None if kind == "ok" else f"{kind}: {error_type(outcome)}"
        self._record(plan, outcome["executed_version"] or "-", outcome["duration_ms"], failure)

    def _record(self, plan: Plan, version: str, duration_ms: float, failure: Any) -> None:
        self.environment.events.request.fire(
            request_type="Invoke",
            name=f"{plan.function_name}@{version}",
            response_time=duration_ms,
            response_length=0,
            exception=failure,
            context={},
        )


class _Ledger:
    """The master's (or local run's) record of the test, written to the result file."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.path = environment.parsed_options.chaosthundra_results
        self.joined: dict[str, float] = {}
        self.finished: dict[str, dict] = {}
        self.started = None
        self.stopped = None
        self.wrapped_up = False
        self.write(final=False)

    def write(self, final: bool) -> None:
        if not self.path:
            return
        runner = self.environment.runner
        stats = runner.stats
        missing = []
        if isinstance(runner, MasterRunner):
            missing = sorted(w for w in self.joined if w not in self.finished)
        else:
            self.finished = {"local": {"sent": _sent["invokes"]}}
        record = {
            "final": final,
            "started": self.started,
            "stopped": self.stopped,
            "joined": sorted(self.joined),
            "finished": self.finished,
            "missing": missing,
            "entries": [
                {
                    "name": e.name,
                    "method": e.method,
                    "num_requests": e.num_requests,
                    "num_failures": e.num_failures,
                    "response_times": {str(k): v for k, v in e.response_times.items()},
                }
                for e in stats.entries.values()
            ],
            "failures": [
                {"name": e.name, "method": e.method, "error": e.error, "occurrences": e.occurrences}
                for e in stats.errors.values()
            ],
        }
        partial = f"{self.path}.part"
        with open(partial, "w") as out:
            json.dump(record, out)
        os.replace(partial, self.path)

    def on_connect(self, client_id: str, **_: Any) -> None:
        self.joined.setdefault(client_id, time.time())
        self.write(final=False)

    def on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        self.finished[msg.node_id] = msg.data

    def on_start(self, **_: Any) -> None:
        """The load starts (on a master, once its workers joined): it ends, with
        Locust's quit, after the plan's duration."""
        self.started = time.time()
        plan = Plan.from_json(self.environment.parsed_options.chaosthundra_plan)
        gevent.spawn_later(plan.duration, self.end)

    def end(self) -> None:
        """Quit (stopping the users, see finish_workers), then the web UI if it runs:
        Locust's main greenlet is the web UI's then."""
        self.stopped = time.time()
        self.environment.runner.quit()
        if self.environment.web_ui:
            self.environment.web_ui.stop()

    def on_stop(self, **_: Any) -> None:
        """A local run ends here: its users have stopped, every invoke is recorded."""
        self.stopped = self.stopped or time.time()
        if not isinstance(self.environment.runner, MasterRunner):
            self.write(final=True)

    def finish_workers(self, quit: Any) -> None:
        """The master's end of a run, in place of Locust's quit: ask every worker to stop
        its users and send its last stats, wait (bounded) for each one still alive,
        write the results, then quit as Locust does."""
        runner = self.environment.runner
        if self.started is not None and not self.wrapped_up:
            self.wrapped_up = True
            self.stopped = self.stopped or time.time()
            for worker in list(runner.clients.all):
                runner.send_message(FINISH_MESSAGE, client_id=worker.id)
            deadline = time.monotonic() + self.environment.stop_timeout + FINISH_WAIT_S
            while time.monotonic() < deadline and any(
                w not in self.finished and _alive(runner, w) for w in self.joined
            ):
                gevent.sleep(0.05)
            self.write(final=True)
        quit()


def _alive(runner: Any, worker_id: str) -> bool:
    node = runner.clients.get(worker_id)
    return node is not None and node.state != STATE_MISSING


def _finish_worker(environment: Any, **_: Any) -> None:
    """Stop this worker's users (letting invokes under way finish, up to the stop
    timeout), send the last stats, then what was sent: the master reads them in this
    order."""
    runner = environment.runner
    runner.stop()
    data: dict = {}
    environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
    runner.send_message("stats", data)
    runner.send_message(DONE_MESSAGE, {"sent": _sent["invokes"]})


def _reset(environment: Any, **_: Any) -> None:
    """A new test: nothing sent yet; the client is built before any user needs it (a
    worker learns the plan from its master's spawn message, just before this)."""
    _sent["invokes"] = 0
    _prepare(environment)


def _prepare(environment: Any) -> None:
    plan = environment.parsed_options.chaosthundra_plan
    if plan and not isinstance(environment.runner, MasterRunner):
        _prepared(plan)  # loading botocore's models blocks every greenlet for a while,
        gevent.get_hub().loop.update_now()  # and the loop's clock with them: timers ran short


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    _prepare(environment)
    environment.events.test_start.add_listener(_reset)
    if isinstance(runner, WorkerRunner):
        runner.register_message(
            FINISH_MESSAGE, lambda **_: _finish_worker(environment), concurrent=True
        )
        return
    ledger = _Ledger(environment)
    environment.events.test_start.add_listener(ledger.on_start)
    environment.events.test_stop.add_listener(ledger.on_stop)
    if isinstance(runner, MasterRunner):
        environment.events.worker_connect.add_listener(ledger.on_connect)
        runner.register_message(DONE_MESSAGE, ledger.on_done)
        locust_quit = runner.quit
        runner.quit = lambda: ledger.finish_workers(locust_quit)
