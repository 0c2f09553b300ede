"""Actions against a real moto server: the resulting configuration is what is asserted."""

from __future__ import annotations

import json

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import listeners
from chaosthundra.actions import (
    disable_error_injection,
    disable_latency_injection,
    enable_error_injection,
    enable_latency_injection,
    remove_all_injections,
)
from chaosthundra.probes import list_injections

FOREIGN_LISTENER = json.dumps(
    {
        "type": "FilteringSpanListener",
        "config": {
            "listener": {"type": "LatencyInjectorSpanListener", "config": {"delay": 5}},
            "filters": [{"className": "HTTP"}],
        },
    }
)
FOREIGN = {
    "REDIS_URL": "redis://cache:6379/0",
    "GREETING": "héllo wörld ✓ 日本",
    "EMPTY": "",
    "SPACES": "  padded  ",
    "THUNDRA_APIKEY": "k-123",
    # someone else's Thundra listener, which we must never touch
    "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OPS": FOREIGN_LISTENER,
}
REDIS_GET = dict(class_name="Redis", tags={"redis.command.type": "GET"})
UPSTREAM = dict(class_name="AWS-Lambda", tags={"aws.lambda.name": "upstream-lambda"})


@pytest.fixture
def layer_arn(configuration) -> str:
    from chaosthundra.aws import client

    lam = client("lambda", configuration)
    from tests.core.conftest import _zip

    return lam.publish_layer_version(LayerName="thundra-like", Content={"ZipFile": _zip()})[
        "LayerVersionArn"
    ]


def test_enable_then_disable_restores_the_configuration_exactly(
    make_function, snap, lam, configuration, layer_arn
):
    name = make_function(dict(FOREIGN), layers=[layer_arn])
    before = snap(name)

    result = enable_error_injection(
        name, error_type="redis.ConnectionError", configuration=configuration, **REDIS_GET
    )
    during = snap(name)["Environment"]["Variables"]
    assert result["status"] == "enabled"
    assert result["env_key"] == "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_CHAOSTHUNDRA_ERROR"
    assert {k: v for k, v in during.items() if k != result["env_key"]} == FOREIGN
    assert json.loads(during[result["env_key"]])["config"]["filters"] == [
        {"className": "Redis", "tags": {"redis.command.type": "GET"}}
    ]
    assert snap(name)["Layers"] == before["Layers"]

    assert disable_error_injection(name, configuration=configuration)["status"] == "disabled"
    after = snap(name)
    assert after == before
    assert json.dumps(after, sort_keys=True, default=str) == json.dumps(
        before, sort_keys=True, default=str
    )


def test_round_trip_of_a_function_without_environment(make_function, snap, configuration):
    name = make_function()
    before = snap(name)
    enable_latency_injection(name, delay=100, configuration=configuration, **UPSTREAM)
    disable_latency_injection(name, configuration=configuration)
    assert snap(name) == before


def test_two_injections_coexist_and_are_removed_one_by_one(make_function, snap, configuration):
    name = make_function(dict(FOREIGN))
    enable_error_injection(
        name, error_type="redis.ConnectionError", configuration=configuration, **REDIS_GET
    )
    enable_latency_injection(name, delay=2500, configuration=configuration, **UPSTREAM)

    found = {i["name"]: i for i in list_injections(name, configuration=configuration)}
    assert set(found) == {"error", "latency", "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OPS"}
    assert found["error"]["kind"] == "error" and found["error"]["ours"]
    assert found["latency"]["kind"] == "latency"
    assert found["latency"]["config"]["config"]["listener"]["config"]["delay"] == 2500
    assert not found["THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OPS"]["ours"]

    disable_error_injection(name, configuration=configuration)
    remaining = {i["name"] for i in list_injections(name, configuration=configuration)}
    assert remaining == {"latency", "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OPS"}

    result = remove_all_injections(name, configuration=configuration)
    assert result["removed"] == ["latency"]
    assert snap(name)["Environment"]["Variables"] == FOREIGN


def test_same_name_replaces_in_place(make_function, snap, configuration):
    name = make_function({"A": "1"})
    enable_latency_injection(name, delay=100, configuration=configuration, **UPSTREAM)
    result = enable_latency_injection(name, delay=300, configuration=configuration, **UPSTREAM)
    assert result["status"] == "replaced"
    (only,) = [i for i in list_injections(name, configuration=configuration) if i["ours"]]
    assert only["config"]["config"]["listener"]["config"]["delay"] == 300


def test_named_injections_of_the_same_kind(make_function, configuration):
    name = make_function()
    enable_error_injection(name, injection_name="get", configuration=configuration, **REDIS_GET)
    enable_error_injection(
        name, injection_name="ddb", class_name="AWS-DynamoDB", configuration=configuration
    )
    assert {i["name"] for i in list_injections(name, configuration=configuration)} == {"get", "ddb"}
    disable_error_injection(name, injection_name="GET", configuration=configuration)
    assert {i["name"] for i in list_injections(name, configuration=configuration)} == {"ddb"}


def test_disabling_what_is_not_there_is_a_no_op_that_says_so(make_function, snap, configuration):
    name = make_function({"A": "1"})
    before = snap(name)
    result = disable_error_injection(name, configuration=configuration)
    assert result["status"] == "absent"
    assert remove_all_injections(name, configuration=configuration)["status"] == "absent"
    assert snap(name) == before


def test_disable_refuses_an_injection_of_the_other_kind(make_function, snap, configuration):
    name = make_function()
    enable_latency_injection(
        name, delay=50, injection_name="x", configuration=configuration, **UPSTREAM
    )
    before = snap(name)
    with pytest.raises(ActivityFailed, match="is a latency injection"):
        disable_error_injection(name, injection_name="x", configuration=configuration)
    assert snap(name) == before


def test_compresses_near_the_limit_and_still_round_trips(make_function, snap, configuration):
    # 3.3 KB of foreign variables leave too little room for the JSON config
    name = make_function({"BIG": "x" * 3300})
    before = snap(name)
    message = "cache unavailable " * 30  # ~540 bytes, compresses well
    result = enable_error_injection(
        name, error_message=message, configuration=configuration, **REDIS_GET
    )
    assert result["encoding"] == "gzip+base64"
    variables = snap(name)["Environment"]["Variables"]
    assert listeners.env_size(variables) <= listeners.ENV_LIMIT_BYTES
    decoded = listeners.decode(variables[result["env_key"]])
    assert decoded["config"]["listener"]["config"]["errorMessage"] == message
    disable_error_injection(name, configuration=configuration)
    assert snap(name) == before


def test_refuses_past_the_limit_and_leaves_the_function_untouched(
    make_function, snap, configuration
):
    name = make_function({"BIG": "x" * 3900})
    before = snap(name)
    with pytest.raises(ActivityFailed, match="4096-byte limit"):
        enable_error_injection(name, configuration=configuration, **REDIS_GET)
    assert snap(name) == before


def test_refuses_a_name_that_collides_in_case_with_a_foreign_variable(
    make_function, snap, configuration
):
    name = make_function({"THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_CHAOSTHUNDRA_error": "{}"})
    before = snap(name)
    with pytest.raises(ActivityFailed, match="only in case"):
        enable_error_injection(name, configuration=configuration, **REDIS_GET)
    assert snap(name) == before


def test_unknown_function_is_a_clear_error(configuration):
    with pytest.raises(
        ActivityFailed,
        match="ResourceNotFoundException.*no-such-function|no-such-function.*ResourceNotFound",
    ):
        enable_error_injection("no-such-function", configuration=configuration, **REDIS_GET)


def test_summary_is_json_safe(make_function, configuration):
    name = make_function()
    result = enable_error_injection(name, configuration=configuration, **REDIS_GET)
    assert json.loads(json.dumps(result)) == result
    assert json.loads(json.dumps(remove_all_injections(name, configuration=configuration)))
