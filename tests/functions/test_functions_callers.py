"""caller-naive and caller, invoking upstream-lambda through a real HTTP stub of the
Lambda Invoke route (moto cannot run function code without Docker).

Scenario 2 of the project (upstream-latency): 2500 ms more on the invoke of
upstream-lambda is within the upstream's timeout (4 s) but more than caller-naive's
whole timeout (2 s), so it times out; caller (6 s, client bounded by the remaining
time) answers.
"""

import json

from fn_support import (
    LISTENER_INFO_TAG,
    LISTENER_KEY,
    UPSTREAM_LATENCY,
    UPSTREAM_LATENCY_MS,
    injected_spans,
)

UPSTREAM_ANSWER = {"answer": 42, "from": "upstream-lambda"}


def run_both(lambdas, stub, **kwargs):
    """Run caller-naive and caller side by side (one event each) against the stub."""
    naive = lambdas.start("caller-naive", [{}], endpoint_url=stub.endpoint, **kwargs)
    fixed = lambdas.start("caller", [{}], endpoint_url=stub.endpoint, **kwargs)
    return naive.wait(), fixed.wait()


def test_timeouts_in_the_template_make_the_scenario(specs):
    names = ("caller-naive", "upstream-lambda", "caller")
    naive, upstream, fixed = (specs[name].timeout for name in names)
    assert naive < UPSTREAM_LATENCY_MS / 1000 < upstream < fixed


def test_both_callers_answer_when_upstream_is_fast(lambdas, lambda_stub):
    naive, fixed = run_both(lambdas, lambda_stub)

    assert naive.only["result"] == {"upstream": UPSTREAM_ANSWER}
    assert fixed.only["result"] == {"upstream": UPSTREAM_ANSWER, "degraded": False}
    assert sorted(call["payload"]["caller"] for call in lambda_stub.calls) == [
        "caller",
        "caller-naive",
    ]
    for call in lambda_stub.calls:
        assert call["function"] == "upstream-lambda"
        assert call["invocationType"] == "RequestResponse"


def test_injected_upstream_latency_times_out_naive_caller_only(lambdas, lambda_stub):
    env = {LISTENER_KEY: json.dumps(UPSTREAM_LATENCY)}
    naive, fixed = run_both(lambdas, lambda_stub, extra_env=env)

    assert naive.only == {"timedOut": True, "errorMessage": "Task timed out after 2.00 seconds"}

    answer = fixed.only
    assert answer["result"] == {"upstream": UPSTREAM_ANSWER, "degraded": False}
    assert UPSTREAM_LATENCY_MS <= answer["durationMs"] < 6000
    # The latency was injected in the caller, on its invoke span of upstream-lambda only
    # (not on the function's own AWS-Lambda root span).
    [span] = injected_spans(fixed.log)
    assert span["className"] == "AWS-Lambda"
    assert span["tags"]["aws.lambda.name"] == "upstream-lambda"
    assert span["tags"][LISTENER_INFO_TAG]["injected_delay"] == UPSTREAM_LATENCY_MS
    # caller-naive was killed while still waiting, before it reached the upstream.
    assert [call["payload"]["caller"] for call in lambda_stub.calls] == ["caller"]


def test_failed_upstream_gives_a_degraded_answer(lambdas, lambda_stub):
    """upstream-lambda ran into its own timeout: caller says so instead of passing it on."""
    lambda_stub.function_error = "Unhandled"
    lambda_stub.payload = {"errorMessage": "Task timed out after 4.00 seconds"}
    naive, fixed = run_both(lambdas, lambda_stub)

    assert naive.only["result"] == {"upstream": lambda_stub.payload}
    assert fixed.only["result"] == {
        "upstream": None,
        "degraded": True,
        "error": "upstream-lambda failed (Unhandled): Task timed out after 4.00 seconds",
    }


def test_upstream_slower_than_remaining_time_gives_a_degraded_answer(lambdas, lambda_stub):
    """The client is bounded by the invocation's remaining time, minus a margin, with a
    single attempt. A 2 s timeout instead of the template's 6 s keeps the test short;
    the bound is relative to the remaining time either way."""
    lambda_stub.delay = 3.0
    outcome = lambdas.run("caller", [{}], endpoint_url=lambda_stub.endpoint, timeout=2).only

    assert outcome["result"]["degraded"] is True
    assert outcome["result"]["upstream"] is None
    assert outcome["result"]["error"].startswith("ReadTimeoutError:")
    assert outcome["durationMs"] < 2000
    assert len(lambda_stub.calls) == 1  # no retries


def test_no_time_left_gives_a_degraded_answer_without_calling(lambdas, lambda_stub):
    outcome = lambdas.run("caller", [{}], endpoint_url=lambda_stub.endpoint, timeout=0.9).only

    assert outcome["result"]["degraded"] is True
    assert "left for the upstream call" in outcome["result"]["error"]
    assert lambda_stub.calls == []
