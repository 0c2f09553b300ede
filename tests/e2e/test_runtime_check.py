"""The agent check models the function's runtime, in the sandbox, with both real agents.

Functions whose package bundles only the agent (no boto3, no redis), wrapped with its
decorator (the layer wrapper imports ``imp``, gone in 3.12), on python3.11, 3.12 and
3.13, each running on its own interpreter (the handler reports its ``sys.version_info``):
the runtime's own ``boto3.exceptions.Boto3Error`` is accepted and fires with that type,
while types the agents cannot build from a message alone are refused before anything is
written.
"""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions, probes
from chaosthundra.agents import CATCHPOINT, THUNDRA
from chaosthundra.aws import client
from tests.sandbox_functions import create_function

RUNTIMES = ["python3.11", "python3.12", "python3.13"]
AGENT_ONLY = {THUNDRA: "thundra==2.7.4\n", CATCHPOINT: "thundra==3.0.10\n"}
DECORATED = {
    THUNDRA: "from thundra.thundra_agent import Thundra\nagent = Thundra(api_key='k')\n",
    CATCHPOINT: "from catchpoint.catchpoint_agent import Catchpoint\nagent = Catchpoint()\n",
}
# boto3 is not in the package: the runtime provides it, as on Lambda
APP = """\
import sys

import boto3
{agent}
table = boto3.resource("dynamodb").Table("users")


@agent
def handler(event, context):
    item = table.get_item(Key={{"id": "1"}}).get("Item")
    return {{"found": item is not None, "python": list(sys.version_info[:2])}}
"""
DYNAMODB = {"class_name": "AWS-DynamoDB"}


@pytest.fixture(scope="module")
def functions(sandbox, sandbox_configuration) -> dict:
    """One function per (runtime, agent), created once for the module."""
    made = {}
    for runtime in RUNTIMES:
        for agent in (THUNDRA, CATCHPOINT):
            made[runtime, agent] = create_function(
                sandbox_configuration,
                f"rt-{runtime.replace('.', '')}-{agent.name}",
                {"app.py": APP.format(agent=DECORATED[agent])},
                requirements=AGENT_ONLY[agent],
                Runtime=runtime,
                Timeout=10,
                Environment={"Variables": {"THUNDRA_APIKEY": "t"}},
            )
    return made


def _configuration(lam, name: str) -> dict:
    """GetFunctionConfiguration as answered, without the response's metadata."""
    answer = lam.get_function_configuration(FunctionName=name)
    answer.pop("ResponseMetadata")
    return answer


@pytest.mark.parametrize("agent", [THUNDRA, CATCHPOINT], ids=lambda a: a.name)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_runtimes_boto3_error_is_accepted_and_fires_with_that_type(
    functions, sandbox_configuration, runtime, agent
):
    name = functions[runtime, agent]
    lam = client("lambda", sandbox_configuration)
    before = _configuration(lam, name)
    healthy = probes.invoke_function(name, {}, configuration=sandbox_configuration)
    assert healthy["function_error"] is None, healthy["payload"]
    assert healthy["payload"]["found"] is True
    assert healthy["payload"]["python"] == [3, int(runtime.split(".")[1])]
    result = actions.enable_error_injection(
        name,
        error_type="boto3.exceptions.Boto3Error",
        error_message=f"the users table is unreachable ({runtime})",
        configuration=sandbox_configuration,
        **DYNAMODB,
    )
    try:
        assert result["agent"] == agent.name
        assert f"from the function's package, on {runtime} (" in result["checked_by"]
        out = probes.invoke_function(name, {}, configuration=sandbox_configuration)
        assert out["function_error"] == "Unhandled"
        assert out["payload"]["errorType"] == "Boto3Error"
        assert out["payload"]["errorMessage"] == f"the users table is unreachable ({runtime})"
    finally:
        actions.remove_all_injections(name, configuration=sandbox_configuration)
    after = _configuration(lam, name)
    volatile = ("RevisionId", "LastModified")  # changed by any write, as on AWS
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in before.items() if k not in volatile
    }


@pytest.mark.parametrize(
    "error_type,reason",
    [
        ("botocore.exceptions.ClientError", "ClientError(error_message) fails with TypeError"),
        ("UnicodeDecodeError", "UnicodeDecodeError(error_message) fails with TypeError"),
    ],
)
@pytest.mark.parametrize("agent", [THUNDRA, CATCHPOINT], ids=lambda a: a.name)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_type_the_agent_cannot_build_is_refused_and_nothing_is_written(
    functions, sandbox_configuration, runtime, agent, error_type, reason
):
    name = functions[runtime, agent]
    lam = client("lambda", sandbox_configuration)
    before = _configuration(lam, name)
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection(
            name, error_type=error_type, configuration=sandbox_configuration, **DYNAMODB
        )
    message = str(raised.value)
    assert "cannot be built from a message alone" in message and reason in message
    assert "'boto3.exceptions.Boto3Error'" in message
    assert "cannot be imported" not in message
    assert _configuration(lam, name) == before  # byte for byte: no write happened
