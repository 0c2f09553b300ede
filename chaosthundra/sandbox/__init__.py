"""The embedded sandbox: a local AWS for Lambda functions, without an account,
Docker or network.

One loopback HTTP endpoint answers boto3 and the AWS CLI. moto, in the same process,
emulates the control plane and data services (Lambda configuration, IAM, DynamoDB,
CloudWatch Logs, STS); the Lambda Invoke API is ours and runs each function in
execution environments (worker processes) with Lambda's semantics. A real
redis-server runs next to it. Functions and tables come from an AWS SAM template.

Layout, one responsibility per module:

- :mod:`.core` the :class:`Sandbox` (lifecycle, configuration, deploy)
- :mod:`.server` the HTTP endpoint and its routing (invoke routes vs moto)
- :mod:`.control_plane` Lambda's control plane in front of moto's (its routes, what it
  forwards, Code.Location)
- :mod:`.control_rules` what that control plane checks and adds to moto's answers
  (refusals, limits, RevisionIds, states)
- :mod:`.wsgi_forward` how it forwards a request to moto and answers on
- :mod:`.function_states` what Lambda keeps that moto does not (revisions, states)
- :mod:`.invoke` the Invoke API
- :mod:`.answers` the HTTP answers the sandbox writes itself (rest-json errors)
- :mod:`.pool` environments: reuse, concurrency, retirement
- :mod:`.environment` one environment (a worker process)
- :mod:`.worker_variables` the environment variables of a worker
- :mod:`.worker` the process inside an environment (a minimal Python runtime)
- :mod:`.pythons` each Runtime's interpreter, boto3 folder and compiled worker
- :mod:`.logs` invocation logs, LogType=Tail and CloudWatch Logs
- :mod:`.code` deployment packages unpacked by the SHA-256 of their zip
- :mod:`.moto_state` the only module that reads moto's in-process state
- :mod:`.moto_internals` the moto names it relies on beyond moto's HTTP API, and why
- :mod:`.redis_server` the Redis
- :mod:`.sam`, :mod:`.deploy_plan` and :mod:`.deploy` SAM templates: read, planned,
  applied
- :mod:`.warm` warm templates that cold starts fork from
- :mod:`.credentials` the dummy credentials and the sandbox's own boto3 clients

The names below are imported on first use, so that importing a small module of the
package (:mod:`.credentials`) does not import moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import DEFAULT_TEMPLATE, Sandbox
    from .deploy import Deployment
    from .errors import SandboxError, TemplateError

__all__ = ["DEFAULT_TEMPLATE", "Deployment", "Sandbox", "SandboxError", "TemplateError"]

_HOMES = {
    "DEFAULT_TEMPLATE": ".core",
    "Sandbox": ".core",
    "Deployment": ".deploy",
    "SandboxError": ".errors",
    "TemplateError": ".errors",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
