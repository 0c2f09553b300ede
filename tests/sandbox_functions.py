"""Create Lambda functions from a few source files, in the sandbox or any moto endpoint."""

from __future__ import annotations

import io
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any, Optional

from chaosthundra.aws import client

THUNDRA_2_REQUIREMENTS = "thundra==2.7.4\nredis>=5.0,<9\n"
CATCHPOINT_REQUIREMENTS = "thundra==3.0.10\nredis>=5.0,<9\n"


def package(
    files: dict[str, str],
    requirements: str = "",
    cache: Optional[Path] = None,
    runtime: str = "",
) -> bytes:
    """A deployment package (zip) holding ``files`` (path -> source), plus ``requirements``
    installed beside them as `sam build` does (see chaosthundra.sandbox.packages), in the
    package cache ``cache`` (by default the one CHAOSTHUNDRA_CACHE_DIR names now), by the
    pip of ``runtime``'s interpreter (this Python's by default)."""
    if requirements:
        from chaosthundra.runtimes import interpreter
        from chaosthundra.sandbox.packages import package_zip

        python = interpreter(runtime) if runtime else None

        with tempfile.TemporaryDirectory(prefix="chaosthundra-code-") as folder:
            for path, text in {**files, "requirements.txt": requirements}.items():
                (Path(folder) / path).parent.mkdir(parents=True, exist_ok=True)
                (Path(folder) / path).write_text(text)
            return package_zip(Path(folder), cache, python)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def create_function(
    configuration: dict,
    prefix: str,
    files: dict[str, str],
    role: str = "",
    requirements: str = "",
    **settings: Any,
) -> str:
    """Create a function named ``<prefix>-<random>``, wait until it is Active.

    ``settings`` are CreateFunction parameters (Handler defaults to app.handler,
    Runtime to python3.11);
    without ``role`` a role is created for it. ``requirements`` are installed into
    its package.
    """
    lam = client("lambda", configuration)
    if not role:
        role = client("iam", configuration).create_role(
            RoleName=f"{prefix}-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Role=role,
        Code={"ZipFile": package(files, requirements)},
        **{"Handler": "app.handler", "Runtime": "python3.11", **settings},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name
