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
