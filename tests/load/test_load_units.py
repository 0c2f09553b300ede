"""The pure parts of chaosthundra.load: whose credentials a worker signs with, and the
figures drawn from a result file and Locust's stats history."""

from __future__ import annotations

import json

from chaosthundra.load.plan import LOCAL_ENV, WORKER_ENV, Plan, worker_configuration
from chaosthundra.load.results import history, summarise


def _plan(**target) -> Plan:
    return Plan("fn", "{}", None, users=2, duration=1, rps=None, target=target)


def test_a_run_on_the_sandbox_signs_with_its_dummy_credentials_whatever_the_worker_has():
    plan = _plan(
        aws_region="us-east-1", aws_endpoint_url="http://127.0.0.1:9", chaosthundra_sandbox=True
    )
    own = {WORKER_ENV: json.dumps({"aws_profile_name": "prod", "aws_assume_role_arn": "arn:x"})}
    configuration, secrets = worker_configuration(plan, own)
    assert configuration == {
        "aws_region": "us-east-1",
        "aws_endpoint_url": "http://127.0.0.1:9",
        "chaosthundra_sandbox": True,
    }
    assert secrets == {}


def test_a_worker_on_aws_uses_its_own_chain_and_the_runs_region_unless_it_names_one():
    plan = _plan(aws_region="eu-west-1", aws_endpoint_url="http://evil", chaosthundra_sandbox=False)
    assert worker_configuration(plan, {WORKER_ENV: json.dumps({"aws_profile_name": "p"})}) == (
        {"aws_region": "eu-west-1", "aws_profile_name": "p"},
        {},
    )
    mine = {WORKER_ENV: json.dumps({"aws_region": "us-west-2"})}
    assert worker_configuration(plan, mine)[0] == {"aws_region": "us-west-2"}
    local = {LOCAL_ENV: json.dumps({"configuration": {"aws_region": "x"}, "secrets": {"k": "v"}})}
    assert worker_configuration(plan, local) == ({"aws_region": "x"}, {"k": "v"})


HISTORY = """\
Timestamp,User Count,Type,Name,Requests/s,Failures/s,\
Total Request Count,Total Failure Count
100,0,,Aggregated,0,0,0,0
101,2,,Aggregated,5,0,40,1
102,2,Invoke,fn@1,5,0,40,1
103,2,,Aggregated,5,0,100,4
"""


def test_the_history_is_per_second_from_the_running_totals():
    assert history(HISTORY) == [
        {"t": 1.0, "at": 101.0, "users": 2, "rps": 40.0, "errors_per_s": 1.0},
        {"t": 3.0, "at": 103.0, "users": 2, "rps": 30.0, "errors_per_s": 1.5},
    ]


def test_figures_per_version_add_up_and_a_missing_worker_makes_them_partial():
    record = {
        "started": 10.0,
        "stopped": 12.0,
        "joined": ["a", "b"],
        "finished": {"a": {"sent": 7}},
        "missing": ["b"],
        "entries": [
            {
                "name": "fn@1",
                "num_requests": 6,
                "num_failures": 1,
                "response_times": {"10": 5, "30": 1},
            },
            {"name": "fn@-", "num_requests": 2, "num_failures": 2, "response_times": {"2": 2}},
        ],
        "failures": [
            {"name": "fn@1", "error": "timeout: Sandbox.Timedout", "occurrences": 1},
            {"name": "fn@-", "error": "throttled: TooManyRequestsException", "occurrences": 2},
        ],
    }
    summary = summarise(record, "", asked_rps=10.0, expect_workers=2)
    assert (summary["count"], summary["ok"], summary["errors"], summary["timeouts"]) == (8, 5, 1, 1)
    assert summary["throttled"] == 2 and summary["error_ratio"] == 0.375
    assert summary["p50_ms"] == 10.0 and summary["p99_ms"] == 30.0 and summary["rps"] == 4.0
    assert summary["rate_reached"] is False and summary["partial"] is True
    assert summary["missing_workers"] == ["b"] and summary["workers"] == 2
    assert summary["executed_versions"] == {"1": 6}
    assert summary["versions"]["1"]["timeouts"] == 1 and summary["versions"]["-"]["throttled"] == 2
    assert summary["failures"] == {
        "timeout: Sandbox.Timedout": 1,
        "throttled: TooManyRequestsException": 2,
    }
