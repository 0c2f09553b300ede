"""The environment variables of a worker process, built from scratch (never copied
from the host): the function's own variables, the Lambda runtime's variables, dummy
credentials, the sandbox endpoint and a minimal PATH/LANG.

Difference from AWS: the function's variables cannot override the runtime,
credential or endpoint variables (AWS rejects reserved keys; the sandbox silently
wins).
"""

from __future__ import annotations

import os
from pathlib import Path

from .credentials import SANDBOX_CREDENTIALS
from .moto_state import FunctionSpec
from .pythons import PythonRuntime

__all__ = ["interpreter_variables", "worker_environment"]


def interpreter_variables(home: Path, runtime: PythonRuntime) -> dict[str, str]:
    """The runtime's variables that the interpreter reads as it starts (the same for
    every function of ``runtime``: a function's own values for them do not count)."""
    return {
        "PATH": os.pathsep.join([str(runtime.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(runtime.provided),
    }


def worker_environment(
    spec: FunctionSpec,
    runtime: PythonRuntime,
    *,
    task_root: Path,
    log_stream: str,
    endpoint_url: str,
    home: Path,
) -> dict[str, str]:
    """The complete environment of a worker process for ``spec``."""
    variables = {
        # Thundra reports to stdout (the log); a function's own key wins.
        "THUNDRA_APIKEY": "chaosthundra-sandbox",
    }
    variables.update(dict(spec.environment))
    variables.update(interpreter_variables(home, runtime))
    variables.update(
        {
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(runtime.provided),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime.name}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_ACCESS_KEY_ID": SANDBOX_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": SANDBOX_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": "chaosthundra-sandbox",
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE": "true",
        }
    )
    return variables
