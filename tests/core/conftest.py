"""Fixtures for the extension core: a real moto server with real functions in it."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Callable, Iterator, Optional

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def configuration(moto_endpoint: str) -> dict:
    """What an experiment's configuration holds when pointed at an emulator."""
    return {"aws_endpoint_url": moto_endpoint, "aws_region": REGION, "chaosthundra_sandbox": True}


@pytest.fixture(scope="session")
def lam(configuration: dict):
    from chaosthundra.aws import client

    return client("lambda", configuration)


def get_or_create_role(configuration: dict, name: str) -> str:
    """The ARN of an IAM role for test functions, created on first use."""
    from botocore.exceptions import ClientError

    from chaosthundra.aws import client

    iam = client("iam", configuration)
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture(scope="session")
def role_arn(configuration: dict) -> str:
    return get_or_create_role(configuration, "chaosthundra-test")


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


@pytest.fixture
def make_function(lam, role_arn: str) -> Callable[..., str]:
    """Create a function with a unique name; returns the name.

    By default the function is instrumented the layer way (handler
    thundra.handler.wrapper), which the guardrails see without any variable.
    """

    def make(
        variables: Optional[dict] = None,
        layers: Optional[list] = None,
        handler: str = "thundra.handler.wrapper",
        code: Optional[bytes] = None,
        **extra,
    ) -> str:
        name = f"fn-{uuid.uuid4().hex[:10]}"
        kwargs = dict(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": code or _zip()},
            Timeout=7,
            MemorySize=256,
            Description="a function under test",
            **extra,
        )
        if variables is not None:
            kwargs["Environment"] = {"Variables": variables}
        if layers:
            kwargs["Layers"] = layers
        lam.create_function(**kwargs)
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        return name

    return make


VOLATILE = ("ResponseMetadata", "RevisionId", "LastModified", "LastUpdateStatus")


def snapshot(lam, name: str) -> dict:
    """The whole function configuration, less what changes on every write."""
    config = lam.get_function_configuration(FunctionName=name)
    return {k: v for k, v in config.items() if k not in VOLATILE}


@pytest.fixture
def snap(lam) -> Callable[[str], dict]:
    return lambda name: snapshot(lam, name)


__all__ = ["REGION", "snapshot", "boto3"]
