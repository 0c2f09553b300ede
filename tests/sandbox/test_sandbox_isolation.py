"""What a function can see of the host: nothing but what the sandbox gives it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sbx_helpers import invoke

from chaosthundra.aws import SANDBOX_CREDENTIALS

NAME = "sbx-changing"

# Everything a worker may see: the function's variables plus these.
RUNTIME_KEYS = {
    "PATH", "LANG", "TZ", "HOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED", "THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE", "THUNDRA_APIKEY",
    "LC_CTYPE",  # set by the interpreter itself when it coerces the C locale
}  # fmt: skip


def _fresh_environment(client: Any) -> dict[str, str]:
    """Change the configuration so that the next invoke starts a new environment."""
    config = client.get_function_configuration(FunctionName=NAME)
    variables = dict(config["Environment"]["Variables"], NONCE=uuid.uuid4().hex)
    client.update_function_configuration(FunctionName=NAME, Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(FunctionName=NAME)
    return variables


def test_no_host_credential_or_variable_reaches_a_function(
    lambda_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = f"host-secret-{uuid.uuid4().hex}"
    shared = tmp_path / "credentials"
    shared.write_text(
        f"[default]\naws_access_key_id = AKIAHOST\naws_secret_access_key = {secret}\n"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", secret)
    monkeypatch.setenv("AWS_PROFILE", "host-profile")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("CHAOSTHUNDRA_HOST_ONLY", secret)
    variables = _fresh_environment(lambda_client)

    out = invoke(lambda_client, NAME, {"environ": True, "credentials": True})["payload"]
    assert out["cold"] is True
    env = out["environ"]
    assert secret not in repr(env) and secret not in repr(out["credentials"])
    assert "AKIAHOST" not in repr(env) and "AKIAHOST" not in repr(out["credentials"])
    assert "AWS_PROFILE" not in env and "CHAOSTHUNDRA_HOST_ONLY" not in env
    assert set(env) <= RUNTIME_KEYS | set(variables)
    assert out["credentials"]["access_key"] == SANDBOX_CREDENTIALS["aws_access_key_id"]
    assert out["credentials"]["secret_key"] == SANDBOX_CREDENTIALS["aws_secret_access_key"]
    assert out["credentials"]["method"] == "env"
    assert env["HOME"] != str(Path.home())


@pytest.mark.parametrize("module", ["chaostoolkit", "moto", "pytest"])
def test_a_function_cannot_import_the_hosts_packages(lambda_client: Any, module: str) -> None:
    """Installed beside the sandbox, absent from the package: ImportModuleError, as on AWS."""
    import io
    import zipfile

    source = f"import {module}\n\ndef handler(event, context):\n    return 1\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("host_import.py", source)
    name = f"sbx-imports-{module}"
    role = lambda_client.get_function_configuration(FunctionName=NAME)["Role"]
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="host_import.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    try:
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
        out = invoke(lambda_client, name, {})
        assert out["FunctionError"] == "Unhandled"
        assert out["payload"]["errorType"] == "Runtime.ImportModuleError"
        assert out["payload"]["errorMessage"] == (
            f"Unable to import module 'host_import': No module named '{module}'"
        )
    finally:
        lambda_client.delete_function(FunctionName=name)


def test_a_function_sees_its_package_then_the_runtimes_boto3(lambda_client: Any) -> None:
    out = invoke(lambda_client, NAME, {"environ": True, "credentials": True})["payload"]
    path = out["sys_path"]
    assert path[0] == out["environ"]["LAMBDA_TASK_ROOT"]
    assert path[1] == out["environ"]["PYTHONPATH"]
    assert not [entry for entry in path if "site-packages" in entry]
    assert out["credentials"]["method"] == "env"  # boto3 imported from the runtime's copy
