"""Pure listener-config code: building, encoding, sizing and reading back."""

from __future__ import annotations

import json

import pytest

from chaosthundra import listeners as L


def test_env_key_is_marked_and_case_normalised():
    assert (
        L.env_key("redis_error")
        == "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_CHAOSTHUNDRA_REDIS_ERROR"
    )
    assert L.env_key("Redis_Error") == L.env_key("redis_error")
    assert L.is_ours(L.env_key("x"))
    assert not L.is_ours("THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG")
    assert not L.is_ours("THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OPS")
    assert L.injection_name_of(L.env_key("Redis_Error")) == "redis_error"


def test_span_filter_fields_and_match_all():
    f = L.span_filter(class_name="AWS-Lambda", tags={"aws.lambda.name": "up"}, reverse=True)
    assert f == {"className": "AWS-Lambda", "tags": {"aws.lambda.name": "up"}, "reverse": True}
    config = L.error_listener([f, L.span_filter(operation_name="GET")], match_all=True)
    assert config["config"]["all"] is True
    assert len(config["config"]["filters"]) == 2


def test_error_listener_shape():
    config = L.error_listener(
        [L.span_filter(class_name="Redis")], "redis.ConnectionError", "down", every=3
    )
    assert config == {
        "type": "FilteringSpanListener",
        "config": {
            "listener": {
                "type": "ErrorInjectorSpanListener",
                "config": {
                    "errorType": "redis.ConnectionError",
                    "errorMessage": "down",
                    "injectOnFinish": False,
                    "injectCountFreq": 3,
                    "addInfoTags": True,
                },
            },
            "filters": [{"className": "Redis"}],
        },
    }


def test_encode_decode_round_trip_both_ways():
    config = L.latency_listener([L.span_filter(class_name="HTTP")], delay=250, variation=50)
    plain, packed = L.encode(config), L.encode(config, compress=True)
    assert plain.startswith("{") and not packed.startswith("{")
    assert L.decode(plain) == L.decode(packed) == config
    assert L.encode(config, compress=True) == packed  # deterministic (gzip mtime=0)


def test_fit_value_prefers_json_then_compresses_then_refuses():
    config = L.error_listener([L.span_filter(class_name="Redis")], error_message="e " * 300)
    key = L.env_key("error")
    assert L.fit_value(config, key, {}).startswith("{")
    packed = L.fit_value(config, key, {"BIG": "x" * 3300})
    assert not packed.startswith("{")
    assert L.env_size({"BIG": "x" * 3300, key: packed}) <= L.ENV_LIMIT_BYTES
    with pytest.raises(L.ConfigTooLarge, match="4096-byte limit"):
        L.fit_value(config, key, {"BIG": "x" * 3990})


def test_env_size_counts_utf8_json():
    assert L.env_size({"A": "é"}) == len('{"A":"é"}'.encode())


def test_parse_injections_kinds_and_ownership():
    ours_error = L.encode(L.error_listener([L.span_filter(class_name="Redis")]))
    ours_latency = L.encode(
        L.latency_listener([L.span_filter(class_name="HTTP")], delay=10), compress=True
    )
    bare = json.dumps({"type": "ErrorInjectorSpanListener", "config": {"errorType": "E"}})
    env = {
        L.env_key("e"): ours_error,
        L.env_key("l"): ours_latency,
        "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG": bare,
        "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_TAGS": json.dumps(
            {"type": "TagInjectorSpanListener", "config": {"tags": {"a": 1}}}
        ),
        "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_BROKEN": "not base64 gzip",
        "UNRELATED": "{}",
    }
    found = {i.name: i for i in L.parse_injections(env)}
    assert set(found) == {
        "e",
        "l",
        "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG",
        "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_TAGS",
        "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_BROKEN",
    }
    assert (found["e"].kind, found["e"].ours, found["e"].encoding) == ("error", True, "json")
    assert (found["l"].kind, found["l"].encoding) == ("latency", "gzip+base64")
    assert found["THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG"].kind == "error"
    assert not found["THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG"].ours
    assert found["THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_TAGS"].kind == "other"
    assert found["THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_BROKEN"].kind == "unreadable"


def test_both_generations_are_read_and_ours_are_recognised():
    from chaosthundra.agents import CATCHPOINT

    config = L.error_listener([L.span_filter(class_name="Redis")])
    variables = {
        L.env_key("a"): L.encode(config),
        L.env_key("b", CATCHPOINT): L.encode(config, compress=True),
        "CATCHPOINT_LAMBDA_TRACE_SPAN_LISTENERCONFIG_OPS": L.encode(config),
        "CATCHPOINT_APIKEY": "k",
    }
    found = {i.env_key: i for i in L.parse_injections(variables)}
    assert set(found) == set(variables) - {"CATCHPOINT_APIKEY"}
    ours_b = found["CATCHPOINT_TRACE_SPAN_LISTENERCONFIG_CHAOSTHUNDRA_B"]
    assert (ours_b.name, ours_b.ours, ours_b.agent, ours_b.kind) == (
        "b",
        True,
        "catchpoint",
        "error",
    )
    assert found[L.env_key("a")].agent == "thundra"
    ops = found["CATCHPOINT_LAMBDA_TRACE_SPAN_LISTENERCONFIG_OPS"]
    assert (ops.ours, ops.agent) == (False, "catchpoint")
    assert L.injection_name_of(L.env_key("Redis_Error", CATCHPOINT)) == "redis_error"
    assert L.env_keys("x") == [L.env_key("x"), L.env_key("x", CATCHPOINT)]


def test_the_origins_bracket_syntax_is_listed_as_legacy():
    value = "FilteringSpanListener[listener=ErrorInjectorSpanListener[errorType=Exception]]"
    variables = {
        "thundra_agent_lambda_trace_span_listener": value,
        "THUNDRA_AGENT_LAMBDA_TRACE_SPAN_LISTENER_2": value,
        "OTHER": "plain",
    }
    found = L.parse_injections(variables)
    assert [i.env_key for i in found] == [
        "THUNDRA_AGENT_LAMBDA_TRACE_SPAN_LISTENER_2",
        "thundra_agent_lambda_trace_span_listener",
    ]
    for injection in found:
        assert (injection.kind, injection.ours, injection.config) == ("legacy", False, None)
        assert "no current agent reads it" in injection.note
