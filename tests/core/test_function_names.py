"""Function names as boto3 takes them: names, name:qualifier, ARNs and partial ARNs.

Run against the sandbox (aliases and invokes are real there). Every refusal leaves
the function exactly as it was: $LATEST, its aliases and its versions.
"""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ParamValidationError
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosthundra import actions, listeners, probes
from chaosthundra.targets.names import FunctionName, parse
from tests.core import on_sandbox
from tests.core.test_alias_target import state
from tests.core.test_fail_closed import ACTIVITIES

ACCOUNT = "123456789012"  # moto's default account, which the sandbox's credentials map to


# The sandbox (aliases and invokes are real there), bound as every core module binds it.
configuration, lam, role_arn = on_sandbox.configuration, on_sandbox.lam, on_sandbox.role_arn


@pytest.fixture
def aliased(make_function, lam):
    """A function that echoes its event, with alias 'live' on version 1 (= $LATEST).

    The handler is the plain one, so the agent is named in the configuration."""
    name = make_function({"KEEP": "me"}, handler="app.handler")
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


@pytest.fixture
def agent_configuration(configuration):
    return {**configuration, "chaosthundra_agent": "thundra"}


def arn(configuration, name: str) -> str:
    return f"arn:aws:lambda:{configuration['aws_region']}:{ACCOUNT}:function:{name}"


@pytest.mark.parametrize(
    "given,parsed",
    [
        ("user-get", FunctionName("user-get")),
        ("user-get:live", FunctionName("user-get", "live")),
        ("user-get:7", FunctionName("user-get", "7")),
        ("user-get:$LATEST", FunctionName("user-get")),
        (f"{ACCOUNT}:function:user-get", FunctionName("user-get", None, None, ACCOUNT)),
        ("function:user-get", FunctionName("user-get")),
        (f"{ACCOUNT}:function:user-get:live", FunctionName("user-get", "live", None, ACCOUNT)),
        (
            f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:user-get",
            FunctionName("user-get", None, "eu-west-1", ACCOUNT),
        ),
        (
            f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:user-get:live",
            FunctionName("user-get", "live", "cn-north-1", ACCOUNT),
        ),
    ],
)
def test_the_forms_boto3_takes_are_parsed(given, parsed):
    assert parse(given) == parsed


BAD = [
    "",
    "   ",
    None,
    42,
    "user get",
    "user-get:",
    "user-get:live:extra",
    "x" * 65,
    f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:thundra:1",
    f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:",
    "user-get::live",
]


@pytest.mark.parametrize("activity", sorted(ACTIVITIES))
def test_a_bad_name_is_refused_in_chaosthundras_words(configuration, lam, aliased, activity):
    before = state(lam, aliased)
    func, arguments = ACTIVITIES[activity]
    for bad in [*BAD, f"{aliased} ", f"{aliased}:a:b", f"{aliased}:live:"]:
        with pytest.raises(ActivityFailed) as raised:
            func(bad, configuration=configuration, **arguments)
        message = str(raised.value)
        assert message.startswith("chaosthundra: function_name"), message
        assert not isinstance(raised.value.__cause__, ParamValidationError)
    assert state(lam, aliased) == before


def test_the_empty_name_names_the_problem(configuration):
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection("", class_name="Redis", configuration=configuration)
    assert str(raised.value) == (
        "chaosthundra: function_name is empty (''): give the Lambda function's name (for "
        "example 'user-get'), its ARN, or name:alias."
    )


def test_enable_by_arn_and_disable_by_partial_arn(agent_configuration, lam, aliased):
    before = state(lam, aliased)
    enabled = actions.enable_error_injection(
        arn(agent_configuration, aliased), class_name="Redis", configuration=agent_configuration
    )
    assert enabled["function_name"] == aliased and enabled["status"] == "enabled"
    variables = lam.get_function_configuration(FunctionName=aliased)["Environment"]["Variables"]
    assert listeners.env_key("error") in variables
    listed = probes.list_injections(
        f"{ACCOUNT}:function:{aliased}", configuration=agent_configuration
    )
    assert [i["name"] for i in listed] == ["error"]
    disabled = actions.disable_error_injection(
        f"{ACCOUNT}:function:{aliased}", configuration=agent_configuration
    )
    assert disabled["status"] == "disabled"
    assert state(lam, aliased) == before


@pytest.mark.parametrize("form", ["name:alias", "arn:alias"])
def test_a_qualified_name_reaches_the_alias(agent_configuration, lam, aliased, caplog, form):
    before = state(lam, aliased)
    qualified = (
        f"{aliased}:live" if form == "name:alias" else f"{arn(agent_configuration, aliased)}:live"
    )
    with caplog.at_level(logging.INFO, logger="chaostoolkit"):
        enabled = actions.enable_error_injection(
            qualified, class_name="Redis", configuration=agent_configuration
        )
    assert enabled["qualifier"] == "live" and enabled["function_name"] == aliased
    # the fault is on the alias's traffic, so no warning that it misses the alias
    assert "does not reach its aliases" not in caplog.text
    routed = lam.get_alias(FunctionName=aliased, Name="live")["FunctionVersion"]
    assert routed == enabled["version"] != "1"
    listed = probes.list_injections(qualified, configuration=agent_configuration)
    assert [i["name"] for i in listed] == ["error"]
    assert probes.list_injections(aliased, configuration=agent_configuration) == []
    actions.disable_error_injection(qualified, configuration=agent_configuration)
    assert state(lam, aliased) == before


def test_a_qualifier_given_twice_must_agree(agent_configuration, lam, aliased):
    before = state(lam, aliased)
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection(
            f"{aliased}:live",
            qualifier="prod",
            class_name="Redis",
            configuration=agent_configuration,
        )
    assert "names qualifier 'live', but qualifier 'prod' was also given" in str(raised.value)
    assert state(lam, aliased) == before
    same = actions.enable_error_injection(
        f"{aliased}:live", qualifier="live", class_name="Redis", configuration=agent_configuration
    )
    assert same["qualifier"] == "live"
    actions.remove_all_injections(aliased, qualifier="live", configuration=agent_configuration)
    assert state(lam, aliased) == before


@pytest.mark.parametrize(
    "where,message",
    [
        ("region", "is in region ap-south-1, but the run is configured for"),
        ("account", "is in AWS account 999999999999, but the credentials in use are for account"),
    ],
)
def test_an_arn_of_another_region_or_account_is_refused(
    agent_configuration, lam, aliased, where, message
):
    before = state(lam, aliased)
    region = "ap-south-1" if where == "region" else agent_configuration["aws_region"]
    account = "999999999999" if where == "account" else ACCOUNT
    other = f"arn:aws:lambda:{region}:{account}:function:{aliased}"
    for activity, (func, arguments) in sorted(ACTIVITIES.items()):
        with pytest.raises(InterruptExecution) as raised:
            func(other, configuration=agent_configuration, **arguments)
        assert message in str(raised.value), activity
    assert state(lam, aliased) == before


def test_invoke_by_arn_runs_the_function(configuration, aliased):
    event = {"userId": "1"}
    by_arn = probes.invoke_function(arn(configuration, aliased), event, configuration=configuration)
    assert (by_arn["status_code"], by_arn["function_error"]) == (200, None)
    assert by_arn["payload"] == event and by_arn["executed_version"] == "$LATEST"
    on_alias = probes.invoke_function(
        f"{ACCOUNT}:function:{aliased}:live", event, configuration=configuration
    )
    assert on_alias["payload"] == event and on_alias["executed_version"] == "1"
    measured = probes.measure_invocations(
        f"{arn(configuration, aliased)}:live",
        event,
        count=3,
        concurrency=3,
        configuration=configuration,
    )
    assert measured["ok"] == 3 and measured["executed_versions"] == {"1": 3}


def test_delays_up_to_lambdas_maximum_are_taken():
    scope = [listeners.span_filter(class_name="Redis")]
    taken = listeners.latency_listener(scope, delay=listeners.MAX_DELAY_MS)
    assert taken["config"]["listener"]["config"]["delay"] == 900_000
    normal = listeners.latency_listener(scope, delay=1, sigma=900_000, distribution="normal")
    assert normal["config"]["listener"]["config"]["sigma"] == 900_000
