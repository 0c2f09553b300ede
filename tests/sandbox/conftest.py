"""Fixtures for the sandbox's own tests: its test functions, deployed once."""

from __future__ import annotations

from typing import Any

import pytest
from sbx_helpers import TEMPLATE, make_client

from chaosthundra.sandbox import Deployment, Sandbox


@pytest.fixture(scope="session")
def deployed(sandbox: Sandbox) -> Deployment:
    return sandbox.deploy(TEMPLATE)


@pytest.fixture(scope="session")
def lambda_client(sandbox: Sandbox, deployed: Deployment) -> Any:
    return make_client(sandbox, "lambda", read_timeout=30, max_pool_connections=40)
