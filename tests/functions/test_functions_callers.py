"""caller-naive and caller in the sandbox, invoking an upstream function there whose
delay and timeout each test chooses (``upstream`` in conftest.py), through the Lambda
Invoke API as on AWS.

Scenario 2 of the project (upstream-latency): 2500 ms more on the invoke of
upstream-lambda is within the upstream's timeout (4 s) but more than caller-naive's
whole timeout (2 s), so it times out; caller (6 s, client bounded by the remaining
time) answers.
"""

import json
import re
import time

from conftest import UPSTREAM_ANSWER
from fn_support import LISTENER_INFO_TAG, LISTENER_KEY, UPSTREAM_LATENCY_MS, injected_spans


def latency_on(upstream_name: str) -> dict:
    """The upstream-latency experiment's fault, pinned to this upstream's name."""
    return {
        "type": "FilteringSpanListener",
        "config": {
            "listener": {
                "type": "LatencyInjectorSpanListener",
                "config": {"delay": UPSTREAM_LATENCY_MS},
            },
            "filters": [{"className": "AWS-Lambda", "tags": {"aws.lambda.name": upstream_name}}],
        },
    }


def run_both(lambdas, upstream, **kwargs):
    """Run caller-naive and caller side by side (one event each) against ``upstream``."""
    naive = lambdas.start("caller-naive", [{}], upstream=upstream.name, **kwargs)
    fixed = lambdas.start("caller", [{}], upstream=upstream.name, **kwargs)
    return naive.wait(), fixed.wait()


def wait_until_finished(upstream, count, limit=30.0):
    """Until ``count`` invocations of the upstream have ended (their REPORT is logged)."""
    deadline = time.monotonic() + limit
    while upstream.finished() < count:
        assert time.monotonic() < deadline, f"{upstream.name}: {count} invocation(s) not ended"
        time.sleep(0.1)


def test_timeouts_in_the_template_make_the_scenario(specs):
    names = ("caller-naive", "upstream-lambda", "caller")
    naive, upstream, fixed = (specs[name].timeout for name in names)
    assert naive < UPSTREAM_LATENCY_MS / 1000 < upstream < fixed


def test_both_callers_answer_when_upstream_is_fast(lambdas, upstream):
    fast = upstream()
    naive, fixed = run_both(lambdas, fast)

    assert naive.only["result"] == {"upstream": UPSTREAM_ANSWER}
    assert fixed.only["result"] == {"upstream": UPSTREAM_ANSWER, "degraded": False}
    callers = sorted(call["caller"].rsplit("-", 1)[0] for call in fast.calls())
    assert callers == ["caller", "caller-naive"]


def test_injected_upstream_latency_times_out_naive_caller_only(lambdas, upstream):
    fast = upstream()
    env = {LISTENER_KEY: json.dumps(latency_on(fast.name))}
    naive, fixed = run_both(lambdas, fast, extra_env=env)

    assert naive.only == {"timedOut": True, "errorMessage": "Task timed out after 2.00 seconds"}

    answer = fixed.only
    assert answer["result"] == {"upstream": UPSTREAM_ANSWER, "degraded": False}
    assert UPSTREAM_LATENCY_MS <= answer["durationMs"] < 6000
    # The latency was injected in the caller, on its invoke span of the upstream only
    # (not on the function's own AWS-Lambda root span).
    [span] = injected_spans(fixed.log)
    assert span["className"] == "AWS-Lambda"
    assert span["tags"]["aws.lambda.name"] == fast.name
    assert span["tags"][LISTENER_INFO_TAG]["injected_delay"] == UPSTREAM_LATENCY_MS
    # caller-naive was killed while still waiting, before it reached the upstream.
    assert [call["caller"].rsplit("-", 1)[0] for call in fast.calls()] == ["caller"]


def test_failed_upstream_gives_a_degraded_answer(lambdas, upstream):
    """The upstream ran into its own timeout: caller says so instead of passing it on."""
    failing = upstream(delay=3, timeout=1)
    # Both callers get 5 s, well past the upstream's 1 s: what is judged is what each
    # makes of the upstream's timeout, not its own (caller-naive's template 2 s was
    # used up by two cold starts and that 1 s on a loaded machine, a KeyError here).
    naive, fixed = run_both(lambdas, failing, timeout=5)

    upstream_error = naive.only["result"]["upstream"]
    assert upstream_error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    answer = fixed.only["result"]
    assert (answer["upstream"], answer["degraded"]) == (None, True)
    assert re.fullmatch(
        rf"{failing.name} failed \(Unhandled\): RequestId: \S+ Error: "
        r"Task timed out after 1\.00 seconds",
        answer["error"],
    ), answer["error"]


def test_upstream_slower_than_remaining_time_gives_a_degraded_answer(lambdas, upstream):
    """The client is bounded by the invocation's remaining time, minus a margin, with a
    single attempt. A 2 s timeout instead of the template's 6 s keeps the test short;
    the bound is relative to the remaining time either way."""
    slow = upstream(delay=3)
    outcome = lambdas.run("caller", [{}], upstream=slow.name, timeout=2).only

    assert outcome["result"]["degraded"] is True
    assert outcome["result"]["upstream"] is None
    assert outcome["result"]["error"].startswith("ReadTimeoutError:")
    assert outcome["durationMs"] < 2000
    wait_until_finished(slow, 1)  # a retry would have started before the first ended
    assert len(slow.calls()) == 1  # no retries


def test_no_time_left_gives_a_degraded_answer_without_calling(lambdas, upstream):
    fast = upstream()
    # Lambda's Timeout is whole seconds: 1 s less a margin of 900 ms leaves under 250 ms
    margin = {"UPSTREAM_TIMEOUT_MARGIN_MS": "900"}
    outcome = lambdas.run("caller", [{}], upstream=fast.name, timeout=1, extra_env=margin).only

    assert outcome["result"]["degraded"] is True
    assert "left for the upstream call" in outcome["result"]["error"]
    assert fast.calls() == []
