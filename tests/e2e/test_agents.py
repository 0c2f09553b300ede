"""The agents users run, in the sandbox: each function's agent is read from its package.

Thundra 2.x and Catchpoint (thundra 3.0.10) functions side by side in one sandbox,
a decorator-wrapped function whose configuration shows no agent, a package without
any agent, and an error type defined only in the function's own package.
"""

from __future__ import annotations

import json

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions, probes
from chaosthundra.agents import CATCHPOINT, THUNDRA
from tests.sandbox_functions import CATCHPOINT_REQUIREMENTS

USER = {"userId": "1"}
REDIS_GET = {"class_name": "Redis", "tags": {"redis.command.type": "GET"}}

# The origin's way: the decorator, with the API key read from a file of the package.
KEY_FROM_FILE = """\
import os
import redis
from thundra.thundra_agent import Thundra

with open(os.path.join(os.path.dirname(__file__), "thundra.key")) as key:
    thundra = Thundra(api_key=key.read().strip())
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@thundra
def handler(event, context):
    return {"value": str(cache.get("agents"))}
"""

NO_AGENT = """\
import os
import redis

cache = redis.Redis.from_url(os.environ["REDIS_URL"])


def handler(event, context):
    return {"value": str(cache.get("agents"))}
"""

OWN_ERROR = {
    THUNDRA: "from thundra.thundra_agent import Thundra\nagent = Thundra(api_key='k')\n",
    CATCHPOINT: "from catchpoint.catchpoint_agent import Catchpoint\nagent = Catchpoint()\n",
}
OWN_ERROR_APP = """\
import os
import redis
{agent}
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@agent
def handler(event, context):
    return {{"value": str(cache.get("agents"))}}
"""
CACHE_DOWN = "class CacheDown(Exception):\n    pass\n"


def _invoke(name: str, configuration: dict) -> dict:
    return probes.invoke_function(name, USER, configuration=configuration)


@pytest.fixture
def restored(sandbox_configuration, function_state):
    """Functions to restore after the test; asserts their variables are as before."""
    names: dict[str, dict] = {}

    def watch(name: str) -> str:
        names[name] = function_state(name)
        return name

    yield watch
    for name, before in names.items():
        actions.remove_all_injections(name, configuration=sandbox_configuration)
        assert function_state(name) == before


def test_thundra_and_catchpoint_side_by_side_each_get_their_fault(sandbox_configuration, restored):
    functions = {"user-get-naive": THUNDRA, "user-get-catchpoint-naive": CATCHPOINT}
    for name, agent in functions.items():
        restored(name)
        result = actions.enable_error_injection(
            name,
            error_type="redis.ConnectionError",
            error_message=f"injected into {name}",
            injection_name="side",
            verify=USER,
            configuration=sandbox_configuration,
            **REDIS_GET,
        )
        assert result["agent"] == agent.name
        assert result["env_key"] == agent.env_key("side")
        assert result["verification"]["verified"] is True
        assert "from the function's package, on python3.11 (" in result["checked_by"]
    catchpoint = result
    # its configuration carries THUNDRA_* variables (template Globals): the package decides
    assert catchpoint["agent_evidence"].startswith("package: its package bundles Catchpoint")
    assert "thundra 3.0.10" in catchpoint["checked_by"]
    for name in functions:
        out = _invoke(name, sandbox_configuration)
        assert out["function_error"] == "Unhandled"
        assert out["payload"]["errorType"] == "ConnectionError"
        assert out["payload"]["errorMessage"] == f"injected into {name}"


def test_catchpoint_every_third_redis_get_fails(sandbox_configuration, restored):
    name = restored("user-get-catchpoint-naive")
    actions.enable_error_injection(
        name,
        error_type="redis.ConnectionError",
        every=3,
        injection_name="every3",
        configuration=sandbox_configuration,
        **REDIS_GET,
    )
    outcomes = [_invoke(name, sandbox_configuration) for _ in range(9)]
    failed = [i + 1 for i, out in enumerate(outcomes) if out["function_error"]]
    assert failed == [3, 6, 9]


def test_the_fixed_catchpoint_function_falls_back_to_dynamodb(sandbox_configuration, restored):
    name = restored("user-get-catchpoint")
    actions.enable_error_injection(
        name,
        error_type="redis.ConnectionError",
        error_message="cache down (injected)",
        verify=USER,
        configuration=sandbox_configuration,
        **REDIS_GET,
    )
    out = _invoke(name, sandbox_configuration)
    assert out["function_error"] is None
    assert out["payload"]["userFound"] is True and out["payload"]["source"] == "dynamodb"
    assert out["payload"]["cacheError"] == "ConnectionError: cache down (injected)"


def test_a_decorated_function_with_its_key_in_a_file_is_accepted_and_its_fault_fires(
    sandbox, sandbox_configuration, make
):
    name = make(
        {"app.py": KEY_FROM_FILE, "thundra.key": "key-from-a-file\n"},
        variables={"REDIS_URL": sandbox.redis_url},  # no agent variable at all
    )
    result = actions.enable_error_injection(
        name,
        error_type="redis.ConnectionError",
        verify={},
        configuration=sandbox_configuration,
        **REDIS_GET,
    )
    assert result["agent"] == "thundra"
    assert result["agent_evidence"] == ("package: its package bundles Thundra 2.x, thundra 2.7.4")
    assert result["verification"]["verified"] is True
    out = probes.invoke_function(name, {}, configuration=sandbox_configuration)
    assert out["payload"]["errorType"] == "ConnectionError"


def test_a_function_whose_package_has_no_agent_is_refused_and_left_untouched(
    sandbox, sandbox_configuration, make
):
    name = make(
        {"app.py": NO_AGENT},
        variables={"REDIS_URL": sandbox.redis_url},
        requirements="redis>=5.0,<9\n",
    )
    before = make.variables(name)
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection(
            name,
            error_type="redis.ConnectionError",
            configuration=sandbox_configuration,
            **REDIS_GET,
        )
    message = str(raised.value)
    assert f"Lambda function '{name}' runs no agent: its deployment package bundles none" in message
    assert "@thundra" in message and "@catchpoint" in message
    assert make.variables(name) == before


@pytest.mark.parametrize("agent", [THUNDRA, CATCHPOINT], ids=lambda a: a.name)
def test_an_error_type_of_the_functions_own_package_is_raised_by_the_agent(
    sandbox, sandbox_configuration, make, agent
):
    requirements = {"requirements": CATCHPOINT_REQUIREMENTS} if agent is CATCHPOINT else {}
    app = OWN_ERROR_APP.format(agent=OWN_ERROR[agent])
    name = make(
        {"app.py": app, "errors_of_app.py": CACHE_DOWN},
        variables={"REDIS_URL": sandbox.redis_url},
        **requirements,
    )
    result = actions.enable_error_injection(
        name,
        error_type="errors_of_app.CacheDown",
        error_message="the cache is down",
        verify={},
        configuration=sandbox_configuration,
        class_name="Redis",
    )
    assert result["agent"] == agent.name
    assert result["verification"]["verified"] is True
    out = probes.invoke_function(name, {}, configuration=sandbox_configuration)
    assert out["payload"]["errorType"] == "CacheDown"
    assert out["payload"]["errorMessage"] == "the cache is down"
    assert json.dumps(out["payload"])  # a plain Lambda error answer


def test_a_latency_injection_on_catchpoint_cannot_be_verified_and_is_not_written(
    sandbox_configuration, function_state
):
    name = "user-get-catchpoint"
    before = function_state(name)
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_latency_injection(
            name, delay=100, verify=USER, configuration=sandbox_configuration, **REDIS_GET
        )
    assert "does not write its spans to the function's log" in str(raised.value)
    assert function_state(name) == before


CATCHPOINT_CALLER = """\
import json
import time

import boto3
from catchpoint.catchpoint_agent import Catchpoint

agent = Catchpoint()
client = boto3.client("lambda")


@agent
def handler(event, context):
    started = time.perf_counter()
    client.invoke(FunctionName=event["target"], Payload=json.dumps(event["payload"]))
    return {"invoke_ms": (time.perf_counter() - started) * 1000}
"""


def test_catchpoint_delays_only_the_upstream_invoke(sandbox, sandbox_configuration, make):
    name = make(
        {"app.py": CATCHPOINT_CALLER},
        variables={"REDIS_URL": sandbox.redis_url},
        requirements=CATCHPOINT_REQUIREMENTS,
    )
    upstream = {"target": "upstream-lambda", "payload": {}}
    other = {"target": "user-get", "payload": USER}

    def invoke_ms(event: dict) -> float:
        out = probes.invoke_function(name, event, configuration=sandbox_configuration)
        assert out["function_error"] is None, out["payload"]
        return out["payload"]["invoke_ms"]

    delay = 600
    result = actions.enable_latency_injection(
        name,
        delay=delay,
        class_name="AWS-Lambda",
        tags={"aws.lambda.name": "upstream-lambda"},
        configuration={**sandbox_configuration, "chaosthundra_agent": "catchpoint"},
    )
    assert result["agent"] == "catchpoint"
    assert result["agent_evidence"] == "configuration key: chaosthundra_agent=catchpoint"
    invoke_ms(upstream), invoke_ms(other)  # warm every environment involved
    assert invoke_ms(upstream) >= delay
    assert invoke_ms(other) < delay
