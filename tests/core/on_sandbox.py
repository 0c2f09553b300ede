"""Run a core test module against the embedded sandbox instead of the plain moto server.

Bind these three fixtures in a test module::

    from tests.core import on_sandbox

    configuration, lam, role_arn = on_sandbox.configuration, on_sandbox.lam, on_sandbox.role_arn

and the conftest fixtures built on them (``make_function``, ``snap``) use the sandbox
too, with its Lambda control plane: RevisionIds, update states, 409/412, limits.
The sandbox refuses what Lambda refuses: variable names need two characters or more.
"""

from __future__ import annotations

import pytest

from chaosthundra.aws import client
from tests.core.conftest import get_or_create_role


@pytest.fixture(scope="module")
def configuration(sandbox_configuration: dict) -> dict:
    return sandbox_configuration


@pytest.fixture(scope="module")
def lam(configuration: dict):
    return client("lambda", configuration)


@pytest.fixture(scope="module")
def role_arn(configuration: dict) -> str:
    return get_or_create_role(configuration, "chaosthundra-test-sandbox")
