"""Preflight guardrails: refused before anything is written, function untouched."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosthundra import actions
from chaosthundra.agents import CATCHPOINT, THUNDRA

REDIS = {"class_name": "Redis"}


def _unique_zip() -> bytes:
    """A package no other test deploys, so no earlier read of it can be cached."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "app.py", f"# {uuid.uuid4()}\ndef handler(event, context):\n    return event\n"
        )
    return buffer.getvalue()


def _refused(make_function, snap, configuration, exception, message, fn_kwargs=None, extra=None):
    name = make_function({"KEEP": "me"}, **(fn_kwargs or {}))
    before = snap(name)
    with pytest.raises(exception) as raised:
        actions.enable_error_injection(
            name, configuration={**configuration, **(extra or {})}, **REDIS
        )
    assert message in str(raised.value)
    assert snap(name) == before
    return name, str(raised.value)


def test_function_whose_agent_cannot_be_told_asks_for_the_key_or_verify(
    make_function, snap, configuration
):
    """No agent in the configuration, and no package to read (moto's Code.Location points
    at AWS, not at the endpoint): refused, asking for the configuration key or verify.

    The code is this test's own: the default package is the same bytes for every function
    made in the same second (zip time stamps), so another test's sandbox function may have
    had it read and unpacked in the cache (kept by CodeSha256); then the answer is rightly
    "runs no agent" instead (seen in a full run: order-dependent failure)."""
    _, message = _refused(
        make_function,
        snap,
        configuration,
        ActivityFailed,
        "cannot tell which agent",
        fn_kwargs={"handler": "app.handler", "code": _unique_zip()},
    )
    assert '"chaosthundra_agent": "thundra" or "catchpoint"' in message
    assert "verify" in message


@pytest.mark.parametrize("agent", [THUNDRA, CATCHPOINT])
def test_the_configuration_key_names_the_agent(make_function, configuration, agent):
    name = make_function({"KEEP": "me"}, handler="app.handler")
    result = actions.enable_error_injection(
        name, configuration={**configuration, "chaosthundra_agent": agent.name}, **REDIS
    )
    assert result["agent"] == agent.name
    assert result["env_key"] == agent.env_key("error")
    assert result["agent_evidence"] == f"configuration key: chaosthundra_agent={agent.name}"
    assert actions.disable_error_injection(name, configuration=configuration)["status"] == (
        "disabled"
    )


def test_a_bad_configuration_key_is_refused(make_function, snap, configuration):
    _, message = _refused(
        make_function,
        snap,
        configuration,
        ActivityFailed,
        "chaosthundra_agent is 'thundra2': use 'thundra' or 'catchpoint'",
        extra={"chaosthundra_agent": "thundra2"},
    )


def test_function_outside_allowlist_interrupts(make_function, snap, configuration):
    _refused(
        make_function,
        snap,
        configuration,
        InterruptExecution,
        "is not in chaosthundra_allowed_functions",
        extra={"chaosthundra_allowed_functions": ["user-get*", "caller"]},
    )


def test_allowlist_patterns_admit_a_function(make_function, configuration):
    name = make_function()
    result = actions.enable_error_injection(
        name, configuration={**configuration, "chaosthundra_allowed_functions": ["fn-*"]}, **REDIS
    )
    assert result["status"] == "enabled"


def test_function_without_required_tag_interrupts(make_function, snap, configuration):
    _refused(
        make_function,
        snap,
        configuration,
        InterruptExecution,
        "lacks the tag 'chaos=allowed'",
        fn_kwargs={"Tags": {"chaos": "forbidden"}},
        extra={"chaosthundra_required_tag": "chaos=allowed"},
    )


def test_required_tag_present_is_accepted(make_function, configuration):
    name = make_function(Tags={"chaos": "allowed"})
    result = actions.enable_error_injection(
        name, configuration={**configuration, "chaosthundra_required_tag": "chaos=allowed"}, **REDIS
    )
    assert result["status"] == "enabled"


def test_wrong_account_interrupts(make_function, snap, configuration):
    # moto's account is 123456789012
    _refused(
        make_function,
        snap,
        configuration,
        InterruptExecution,
        "are for AWS account 123456789012, not the expected 999999999999",
        extra={"aws_expected_account_id": "999999999999"},
    )


def test_expected_account_is_accepted(make_function, configuration):
    name = make_function()
    result = actions.enable_error_injection(
        name, configuration={**configuration, "aws_expected_account_id": "123456789012"}, **REDIS
    )
    assert result["status"] == "enabled"


def test_disable_is_never_blocked_by_a_guardrail(make_function, snap, configuration):
    name = make_function({"KEEP": "me"})
    before = snap(name)
    actions.enable_error_injection(name, configuration=configuration, **REDIS)
    strict = {
        **configuration,
        "chaosthundra_allowed_functions": ["nothing"],
        "aws_expected_account_id": "999999999999",
    }
    assert actions.disable_error_injection(name, configuration=strict)["status"] == "disabled"
    assert snap(name) == before


@pytest.mark.parametrize(
    "agent,function,evidence",
    [
        (THUNDRA, {"Handler": "thundra.handler.wrapper"}, "handler thundra.handler.wrapper"),
        (
            THUNDRA,
            {
                "Handler": "app.h",
                "Layers": [
                    {
                        "Arn": "arn:aws:lambda:eu-west-1:269863060030:layer:"
                        "thundra-lambda-python-layer:62"
                    }
                ],
            },
            "layer",
        ),
        (THUNDRA, {"Handler": "app.h", "V": {"THUNDRA_APIKEY": "k"}}, "variable THUNDRA_APIKEY"),
        (
            THUNDRA,
            {"Handler": "app.h", "V": {"THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_X": "{}"}},
            None,
        ),
        (THUNDRA, {"Handler": "app.h", "V": {"CATCHPOINT_APIKEY": "k"}}, None),
        (CATCHPOINT, {"Handler": "catchpoint.handler.wrapper"}, "handler catchpoint.handler"),
        (CATCHPOINT, {"Handler": "app.h", "V": {"CATCHPOINT_APIKEY": "k"}}, "variable CATCHPOINT"),
        (
            CATCHPOINT,
            {"Handler": "app.h", "V": {"CATCHPOINT_TRACE_SPAN_LISTENERCONFIG": "{}"}},
            None,
        ),
        (CATCHPOINT, {"Handler": "app.h", "V": {"THUNDRA_APIKEY": "k"}}, None),
        (CATCHPOINT, {"Handler": "app.h"}, None),
    ],
)
def test_agent_evidence_in_a_configuration(agent, function, evidence):
    found = agent.evidence_in(function, function.get("V", {}))
    assert (found is None) if evidence is None else evidence in found
