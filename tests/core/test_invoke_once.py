"""An invoke runs the function at most once: no SDK retry, throttles and 5xx as outcomes.

Against the session sandbox (real worker processes), through a loopback proxy
that counts the HTTP requests. Each function appends its request id to a file
named in the event, so the file counts its executions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import probes
from chaosthundra.aws import client
from tests.core import recording_proxy
from tests.sandbox_functions import create_function

APP = """\
import time


def handler(event, context):
    with open(event["ran"], "a") as runs:
        runs.write(context.aws_request_id + "\\n")
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def make_counted(sandbox) -> Callable[..., str]:
    """Create a function that records each execution; returns its name."""
    configuration = sandbox.configuration()

    def make(reserved: int) -> str:
        name = create_function(configuration, "once", {"app.py": APP}, Timeout=30)
        client("lambda", configuration).put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=reserved
        )
        return name

    return make


proxy = recording_proxy.proxy


@pytest.fixture
def via_proxy(sandbox, proxy) -> dict:
    return {
        "aws_endpoint_url": proxy.url,
        "aws_region": sandbox.region,
        "chaosthundra_sandbox": True,
    }


def _runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_throttled_invoke_is_one_request_and_reported(make_counted, proxy, via_proxy, tmp_path):
    name = make_counted(reserved=0)
    ran = tmp_path / "ran"
    for attempt in (1, 2):  # the first also builds the client
        started = time.perf_counter()
        outcome = probes.invoke_function(name, {"ran": str(ran)}, configuration=via_proxy)
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"throttled invoke {attempt} answered in {elapsed_ms:.1f} ms")
        assert outcome["status_code"] == 429
        assert len(proxy.invokes()) == attempt
    assert outcome["payload"]["errorType"] == "TooManyRequestsException"
    assert outcome["payload"]["reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert _runs(ran) == 0
    assert probes.invocation_succeeds(name, {"ran": str(ran)}, configuration=via_proxy) is False
    assert len(proxy.invokes()) == 3


def test_a_5xx_is_reported_and_the_function_ran_once(make_counted, proxy, via_proxy, tmp_path):
    name = make_counted(reserved=10)
    ran = tmp_path / "ran"
    proxy.invoke_status = 502  # the invoke reaches the function, then the answer is lost
    outcome = probes.invoke_function(name, {"ran": str(ran)}, configuration=via_proxy)
    assert outcome["status_code"] == 502
    assert outcome["function_error"] is None
    assert outcome["payload"]["errorType"] == "502"
    assert len(proxy.invokes()) == 1
    assert _runs(ran) == 1

    summary = probes.measure_invocations(
        name, {"ran": str(ran)}, count=6, concurrency=3, configuration=via_proxy
    )
    assert summary["service_errors"] == 6
    assert summary["outcomes"] == ["service_error"] * 6
    assert summary["ok"] == summary["errors"] == summary["throttled"] == 0
    assert summary["error_ratio"] == 1.0
    assert len(proxy.invokes()) == 1 + 6
    assert _runs(ran) == 1 + 6


def test_measuring_64_at_a_time_against_4_accounts_for_every_invoke(
    make_counted, proxy, via_proxy, tmp_path
):
    name = make_counted(reserved=4)
    ran = tmp_path / "ran"
    summary = probes.measure_invocations(
        name, {"ran": str(ran), "sleep": 0.5}, count=64, concurrency=64, configuration=via_proxy
    )
    counted = summary["ok"] + summary["errors"] + summary["throttled"] + summary["service_errors"]
    print({k: summary[k] for k in ("ok", "errors", "throttled", "service_errors", "p95_ms")})
    assert counted == summary["count"] == 64
    assert summary["throttled"] > 0, "64 concurrent invokes of a function capped at 4"
    assert summary["ok"] >= 4
    assert summary["errors"] == summary["service_errors"] == 0
    assert len(summary["outcomes"]) == len(summary["durations_ms"]) == 64
    assert len(proxy.invokes()) == 64  # no invoke was retried
    assert _runs(ran) == summary["ok"]  # a throttled invoke never ran the function
    assert summary["error_ratio"] == round(summary["throttled"] / 64, 6)


def test_an_invoke_that_gets_no_answer_is_one_outcome_of_the_measurement(
    make_counted, sandbox, tmp_path
):
    name = make_counted(reserved=10)
    nowhere = {
        "aws_endpoint_url": "http://127.0.0.1:9",
        "aws_region": sandbox.region,
        "chaosthundra_sandbox": True,
    }
    summary = probes.measure_invocations(name, {"ran": "unused"}, count=3, configuration=nowhere)
    assert summary["errors"] == 3
    assert summary["outcomes"] == ["error"] * 3
    with pytest.raises(ActivityFailed) as raised:
        probes.invoke_function(name, configuration=nowhere)
    assert "was not retried" in str(raised.value)
