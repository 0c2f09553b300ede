"""Create Lambda functions from a few source files, in the sandbox or any moto endpoint."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any

from chaosthundra.aws import client


def package(files: dict[str, str]) -> bytes:
    """A deployment package (zip) holding ``files``: path -> source."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def create_function(
    configuration: dict, prefix: str, files: dict[str, str], role: str = "", **settings: Any
) -> str:
    """Create a python3.11 function named ``<prefix>-<random>``, wait until it is Active.

    ``settings`` are CreateFunction parameters (Handler defaults to app.handler);
    without ``role`` a role is created for it.
    """
    lam = client("lambda", configuration)
    if not role:
        role = client("iam", configuration).create_role(
            RoleName=f"{prefix}-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Code={"ZipFile": package(files)},
        **{"Handler": "app.handler", **settings},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name
