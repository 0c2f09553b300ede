"""Verified injection on the sandbox: confirmed when the fault fires, refused with the reason
when it cannot fire, and never left behind when it could not be verified."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions
from tests.e2e.conftest import AGENT

PLAIN = "def handler(event, context):\n    return {'ok': True}\n"
# A module of the function that shadows a package the agent would import the error type
# from: it imports where chaosthundra runs, but not inside the function.
SHADOW = "# shadows the chaoslib package inside this function\n"


def _refused(make, files, message, sandbox_configuration, **kwargs):
    name = make(files)
    before = make.variables(name)
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection(
            name, verify={}, configuration=sandbox_configuration, **kwargs
        )
    assert "could not verify the injection" in str(raised.value)
    assert message in str(raised.value)
    assert make.variables(name) == before  # the unverified injection was removed
    return str(raised.value)


def test_verified_when_the_fault_fires(make, sandbox_configuration):
    name = make({"app.py": AGENT})
    result = actions.enable_error_injection(
        name,
        error_type="redis.ConnectionError",
        class_name="Redis",
        verify={},
        configuration=sandbox_configuration,
    )
    assert result["verification"]["verified"] is True
    assert result["verification"]["injected_spans"] == 1
    assert "ConnectionError" in result["verification"]["span_info"]["error_type"]


def test_every_n_is_verified_within_n_invokes(make, sandbox_configuration):
    name = make({"app.py": AGENT})
    result = actions.enable_error_injection(
        name, class_name="Redis", every=3, verify={}, configuration=sandbox_configuration
    )
    assert result["verification"]["invocations"] == 3


def test_no_agent_output(make, sandbox_configuration):
    _refused(
        make,
        {"app.py": PLAIN},
        "no agent output in the function's log",
        sandbox_configuration,
        class_name="Redis",
    )


def test_no_matching_span(make, sandbox_configuration):
    _refused(
        make,
        {"app.py": AGENT},
        "the filter matched no span",
        sandbox_configuration,
        class_name="HTTP",
    )


def test_an_error_type_the_functions_package_lacks_is_refused_before_writing(
    make, sandbox_configuration
):
    """chaoslib imports where chaosthundra runs, not in the function (its package shadows
    it): the check runs with the function's package, so nothing is written."""
    name = make({"app.py": AGENT, "chaoslib.py": SHADOW})
    before = make.variables(name)
    with pytest.raises(ActivityFailed) as raised:
        actions.enable_error_injection(
            name,
            verify={},
            configuration=sandbox_configuration,
            class_name="Redis",
            error_type="chaoslib.exceptions.ActivityFailed",
        )
    assert "cannot be imported where the agent runs" in str(raised.value)
    assert make.variables(name) == before
