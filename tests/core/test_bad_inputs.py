"""Every bad input gets a clear error that names the problem, and the function is untouched.

docs/bad-inputs.md lists these cases; a test below keeps the two in step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosthundra import actions, probes

REDIS = {"class_name": "Redis"}
UP = {"class_name": "AWS-Lambda", "tags": {"aws.lambda.name": "upstream-lambda"}}

# id, activity, arguments, exception, what the message must say
CASES = [
    ("no-filter", actions.enable_error_injection, {}, ActivityFailed, "no span filter given"),
    (
        "empty-tags",
        actions.enable_error_injection,
        {"tags": {}},
        ActivityFailed,
        "tags must be a non-empty mapping",
    ),
    (
        "tags-not-mapping",
        actions.enable_error_injection,
        {"tags": "redis"},
        ActivityFailed,
        "tags must be a non-empty mapping",
    ),
    (
        "tag-value-object",
        actions.enable_error_injection,
        {"tags": {"a": {"b": 1}}},
        ActivityFailed,
        "tag 'a' must be matched against",
    ),
    (
        "blank-class-name",
        actions.enable_error_injection,
        {"class_name": " "},
        ActivityFailed,
        "class_name must be a non-empty string",
    ),
    (
        "error-type-not-importable",
        actions.enable_error_injection,
        {**REDIS, "error_type": "redis.NoSuchError"},
        ActivityFailed,
        "cannot be imported",
    ),
    (
        "error-type-unknown-builtin",
        actions.enable_error_injection,
        {**REDIS, "error_type": "CacheMeltdown"},
        ActivityFailed,
        "cannot be imported",
    ),
    (
        "error-type-not-buildable",
        actions.enable_error_injection,
        {**REDIS, "error_type": "botocore.exceptions.ClientError"},
        ActivityFailed,
        "cannot be built from a message alone",
    ),
    (
        "error-type-builtin-not-buildable",
        actions.enable_error_injection,
        {**REDIS, "error_type": "UnicodeDecodeError"},
        ActivityFailed,
        "UnicodeDecodeError(error_message) fails with TypeError",
    ),
    (
        "error-type-not-a-name",
        actions.enable_error_injection,
        {**REDIS, "error_type": "redis ConnectionError"},
        ActivityFailed,
        "is not a Python exception name",
    ),
    (
        "error-message-quoted",
        actions.enable_error_injection,
        {**REDIS, "error_message": '"boom"'},
        ActivityFailed,
        "would use error_message=",
    ),
    (
        "error-message-not-text",
        actions.enable_error_injection,
        {**REDIS, "error_message": 42},
        ActivityFailed,
        "error_message must be a string",
    ),
    (
        "every-zero",
        actions.enable_error_injection,
        {**REDIS, "every": 0},
        ActivityFailed,
        "every must be a whole number >= 1",
    ),
    (
        "every-negative",
        actions.enable_error_injection,
        {**REDIS, "every": -3},
        ActivityFailed,
        "every must be a whole number >= 1",
    ),
    (
        "every-fraction",
        actions.enable_error_injection,
        {**REDIS, "every": 2.5},
        ActivityFailed,
        "every must be a whole number >= 1",
    ),
    (
        "inject-on-finish-not-bool",
        actions.enable_error_injection,
        {**REDIS, "inject_on_finish": "yes"},
        ActivityFailed,
        "inject_on_finish must be true or",
    ),
    (
        "delay-negative",
        actions.enable_latency_injection,
        {**UP, "delay": -100},
        ActivityFailed,
        "delay must be a whole number >= 1 milliseconds",
    ),
    (
        "delay-zero",
        actions.enable_latency_injection,
        {**UP, "delay": 0},
        ActivityFailed,
        "delay must be a whole number >= 1 milliseconds",
    ),
    (
        "delay-not-a-number",
        actions.enable_latency_injection,
        {**UP, "delay": "slow"},
        ActivityFailed,
        "delay must be a whole number",
    ),
    (
        "variation-over-delay",
        actions.enable_latency_injection,
        {**UP, "delay": 100, "variation": 200},
        ActivityFailed,
        "must not exceed delay",
    ),
    (
        "unknown-distribution",
        actions.enable_latency_injection,
        {**UP, "delay": 100, "distribution": "poisson"},
        ActivityFailed,
        "distribution 'poisson' is unknown",
    ),
    (
        "sigma-with-uniform",
        actions.enable_latency_injection,
        {**UP, "delay": 100, "sigma": 10},
        ActivityFailed,
        "sigma only applies",
    ),
    (
        "variation-with-normal",
        actions.enable_latency_injection,
        {**UP, "delay": 100, "variation": 10, "distribution": "normal"},
        ActivityFailed,
        "variation only applies",
    ),
    (
        "delay-over-900s",
        actions.enable_latency_injection,
        {**UP, "delay": 10**12},
        ActivityFailed,
        "delay must be at most 900000 milliseconds (Lambda's maximum timeout, 900 s)",
    ),
    (
        "delay-just-over-900s",
        actions.enable_latency_injection,
        {**UP, "delay": 900_001},
        ActivityFailed,
        "delay must be at most 900000 milliseconds",
    ),
    (
        "variation-over-900s",
        actions.enable_latency_injection,
        {**UP, "delay": 900_000, "variation": 900_001},
        ActivityFailed,
        "variation must be at most 900000 milliseconds",
    ),
    (
        "sigma-over-900s",
        actions.enable_latency_injection,
        {**UP, "delay": 100, "sigma": 10**9, "distribution": "normal"},
        ActivityFailed,
        "sigma must be at most 900000 milliseconds",
    ),
    (
        "delay-plus-variation-over-900s",
        actions.enable_latency_injection,
        {**UP, "delay": 600_000, "variation": 400_000},
        ActivityFailed,
        "delay + variation (1000000 ms) must not exceed 900000 ms",
    ),
    (
        "injection-name-invalid",
        actions.enable_error_injection,
        {**REDIS, "injection_name": "my-error!"},
        ActivityFailed,
        "injection_name 'my-error!'",
    ),
    (
        "injection-name-too-long",
        actions.enable_error_injection,
        {**REDIS, "injection_name": "x" * 41},
        ActivityFailed,
        "is not valid",
    ),
    (
        "disable-name-invalid",
        actions.disable_error_injection,
        {"injection_name": ""},
        ActivityFailed,
        "injection_name '' is not valid",
    ),
    (
        "qualifier-version",
        actions.enable_error_injection,
        {**REDIS, "qualifier": "1"},
        ActivityFailed,
        "published versions are immutable",
    ),
    (
        "qualifier-latest",
        actions.enable_error_injection,
        {**REDIS, "qualifier": "$LATEST"},
        ActivityFailed,
        "give no qualifier",
    ),
    (
        "qualifier-not-alias-name",
        actions.disable_error_injection,
        {"qualifier": "live alias"},
        ActivityFailed,
        "is not an alias name",
    ),
    (
        "unknown-alias",
        actions.enable_error_injection,
        {**REDIS, "qualifier": "prod"},
        ActivityFailed,
        "has no alias 'prod' (its aliases: none)",
    ),
    (
        "percentage-without-alias",
        actions.enable_error_injection,
        {**REDIS, "traffic_percentage": 30},
        ActivityFailed,
        "traffic_percentage 30 needs a qualifier",
    ),
    (
        "percentage-out-of-range",
        actions.enable_latency_injection,
        {**UP, "delay": 100, "qualifier": "live", "traffic_percentage": 150},
        ActivityFailed,
        "traffic_percentage must be a number greater than 0 and at most 100",
    ),
    (
        "payload-not-json",
        probes.invoke_function,
        {"payload": "{userId: 1}"},
        ActivityFailed,
        "is not valid JSON",
    ),
    (
        "payload-not-serialisable",
        probes.invoke_function,
        {"payload": {"at": object()}},
        ActivityFailed,
        "cannot be sent as JSON",
    ),
]


@pytest.mark.parametrize(
    "activity,arguments,exception,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_and_the_function_is_untouched(
    make_function, snap, configuration, activity, arguments, exception, message
):
    name = make_function({"KEEP": "me"})
    before = snap(name)
    with pytest.raises(exception) as raised:
        activity(name, configuration=configuration, **arguments)
    assert message in str(raised.value)
    assert snap(name) == before


def test_unknown_function(configuration):
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection("no-such-fn", configuration=configuration, **REDIS)
    assert "'no-such-fn'" in str(raised.value)
    assert "ResourceNotFoundException" in str(raised.value)
    assert "Check the function name and the region" in str(raised.value)


def test_missing_region_interrupts(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(InterruptExecution, match="no AWS region set"):
        actions.enable_error_injection("fn", configuration={}, **REDIS)


@pytest.mark.parametrize("timeout", [0, -5, "soon", 7200, True])
def test_enable_timeout_must_be_a_number_of_seconds(make_function, snap, configuration, timeout):
    name = make_function({"KEEP": "me"})
    before = snap(name)
    configured = {**configuration, "chaosthundra_enable_timeout_seconds": timeout}
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection(name, configuration=configured, **REDIS)
    assert "chaosthundra_enable_timeout_seconds must be a number of seconds" in str(raised.value)
    assert snap(name) == before


@pytest.mark.parametrize("where", ["configuration", "environment"])
def test_a_missing_profile_interrupts(
    monkeypatch, tmp_path, make_function, snap, configuration, where
):
    name = make_function({"KEEP": "me"})
    before = snap(name)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    real = {k: v for k, v in configuration.items() if k != "chaosthundra_sandbox"}
    if where == "configuration":
        real["aws_profile_name"] = "no-such-profile"
    else:
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(InterruptExecution) as raised:
        actions.enable_error_injection(name, configuration=real, **REDIS)
    assert "the AWS profile 'no-such-profile'" in str(raised.value)
    assert "does not exist" in str(raised.value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert snap(name) == before


def test_every_case_is_documented():
    doc = (Path(__file__).parents[2] / "docs" / "bad-inputs.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, flags=re.M))
    # the other rows are backed by test_actions.py and test_guardrails.py
    tested = {c[0] for c in CASES} | {
        "unknown-function",
        "missing-region",
        "oversize-config",
        "name-case-collision",
        "no-agent",
        "not-allowed",
        "missing-tag",
        "wrong-account",
        "enable-timeout-invalid",
        "missing-profile",
        "verify-no-agent-output",
        "verify-no-matching-span",
        "agent-unknown",
        "agent-key-invalid",
        "error-type-not-in-package",
        "agent-check-crashed",
        "agent-check-timeout",
        "verify-latency-catchpoint",
        # tests/core/test_alias_target.py
        "alias-latest-differs",
        "alias-split-share",
        "alias-on-latest",
        "alias-percentage-differs",
        # tests/core/test_ownership.py
        "owner-held",
        "owner-held-other-case",
        "owner-name-spelling",
        "owner-left",
        "removal-undone",
        # tests/core/test_function_names.py
        "function-name-empty",
        "function-name-invalid",
        "qualifier-twice",
        "function-arn-other-region",
        "function-arn-other-account",
        # tests/core/test_dead_endpoints.py
        "endpoint-dead",
        "endpoint-black-hole",
        "endpoint-not-aws",
        "invoke-endpoint-dead",
        "attached-sandbox-dead",
        # tests/core/test_fail_closed.py
        "sandbox-no-endpoint",
        "sandbox-endpoint-off-machine",
        "target-unknown",
    }
    assert tested <= documented, f"undocumented: {sorted(tested - documented)}"
