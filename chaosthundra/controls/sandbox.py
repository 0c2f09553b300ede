"""Chaos Toolkit control: run the experiment against the embedded sandbox.

Declare it in an experiment::

    "controls": [{
        "name": "sandbox",
        "provider": {"type": "python", "module": "chaosthundra.controls.sandbox",
                     "arguments": {"template": "functions/template.yaml"}}
    }]

``configure_control`` starts the sandbox before the experiment and points the run's
configuration at it (``aws_endpoint_url``, ``aws_region``, ``chaosthundra_sandbox``);
chaoslib hands that same dictionary to every activity. ``cleanup_control`` stops it.
The functions the experiment names are deployed before it starts, the template's
others only once a request could see one of them, and that request waits until they
are deployed (``Sandbox(deploy_first=...)``): the run sees the whole template.

When the configuration's ``target`` is ``"aws"`` (or, with no ``target``, the
environment variable ``CHAOSTHUNDRA_TARGET`` is ``aws``) the control does nothing and
the experiment runs against real AWS. Any other value is refused. A run whose target
is the sandbox but that lacks this control (and ``CHAOSTHUNDRA_SANDBOX_URL``) sends
nothing anywhere: every activity refuses (see :mod:`chaosthundra.endpoints`).

When ``CHAOSTHUNDRA_SANDBOX_URL`` is set (``chaosthundra sandbox up`` prints it with
the other exports a shell needs), the control attaches to that running sandbox
instead of starting one, in the configuration's region, else ``AWS_REGION``, and
leaves it running: its functions then outlive the run, which is what ``chaosthundra
status`` and ``clear`` need after a run was killed. A sandbox there that does not
answer, one that fails to start, or an unknown target is said in one line, and the
run is stopped before it starts (``before_experiment_control``).
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any, Optional

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib import substitute
from chaoslib.exceptions import ChaosException, InterruptExecution
from chaoslib.types import Configuration, Experiment, Secrets, Settings

from ..aws import client
from ..endpoints import SANDBOX_URL_ENV, resolve_target
from ..sandbox import Sandbox

__all__ = ["before_experiment_control", "cleanup_control", "configure_control", "named_in"]

logger = logging.getLogger("chaostoolkit")

# Not a usable endpoint: where activities go when the sandbox failed to start, so
# that they fail instead of reaching real AWS (chaoslib ignores control errors).
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"

_sandbox: Optional[Sandbox] = None
# Why the run cannot use the sandbox, when configure_control found so.
_refusal: Optional[str] = None


def _target(configuration: Configuration) -> str:
    """The run's target; the sandbox when nothing says otherwise."""
    return resolve_target(configuration) or "sandbox"


def configure_control(
    configuration: Configuration = None,
    secrets: Secrets = None,
    settings: Settings = None,
    experiment: Experiment = None,
    template: Optional[str] = None,
    port: int = 0,
    update_delay_ms: Optional[int] = None,
    pythons: Optional[dict[str, str]] = None,
    **kwargs: Any,
) -> None:
    """Start the sandbox (deploying ``template``, default functions/template.yaml)
    on ``port`` (0: any free port) and point ``configuration`` at it.

    ``update_delay_ms``: how long a Lambda update stays InProgress in the sandbox
    (default: env CHAOSTHUNDRA_SANDBOX_UPDATE_DELAY_MS, else 0). ``pythons``: the
    interpreter of a Python Runtime, ``{"python3.12": "/path/to/python3.12"}`` (else
    CHAOSTHUNDRA_PYTHONS, PATH, pyenv and uv are searched)."""
    global _sandbox, _refusal
    _refusal = None
    try:
        target = _target(configuration)
    except InterruptExecution as error:
        _refuse(str(error))
        return
    if target == "aws":
        logger.info("chaosthundra: target is aws, the sandbox is not started")
        return
    if configuration is None:
        logger.error("chaosthundra: no configuration to point at the sandbox; not started")
        return
    attach_url = os.environ.get("CHAOSTHUNDRA_SANDBOX_URL")
    if attach_url:
        logger.info("chaosthundra: using the running sandbox at %s", attach_url)
        if update_delay_ms is not None or pythons:
            logger.warning(
                "chaosthundra: update_delay_ms and pythons are ignored: the running sandbox "
                "keeps its own (chaosthundra sandbox up --update-delay MS --python ...)"
            )
        configuration.update(
            {
                "aws_endpoint_url": attach_url,
                "aws_region": _attached_region(configuration),
                "chaosthundra_sandbox": True,
            }
        )
        _check_attached(configuration, attach_url)
        return
    if _sandbox is None:
        # What the run has imported so far lives as long as the run: keep the cyclic
        # GC from walking it again in every full collection (~0.1 s of each run).
        gc.freeze()
        region = str(configuration.get("aws_region") or "us-east-1")
        try:
            sandbox = Sandbox(
                template=template,
                port=int(port),
                region=region,
                update_delay_ms=update_delay_ms,
                pythons=pythons,
                warm_templates=True,  # the experiment invokes what it deploys
                deploy_first=named_in(experiment, configuration, secrets),
            )
            sandbox.start()
        except Exception as exc:
            _refuse(f"chaosthundra: the sandbox did not start: {exc}")
            configuration.update(
                {"aws_endpoint_url": UNREACHABLE_ENDPOINT, "chaosthundra_sandbox": True}
            )
            return
        _sandbox = sandbox
    configuration.update(_sandbox.configuration())
    configuration["chaosthundra_redis_url"] = _sandbox.redis_url


def _attached_region(configuration: Configuration) -> str:
    """The region of a running sandbox's functions: the configuration's, else the
    shell's (``chaosthundra sandbox up`` exports ``AWS_REGION``), else us-east-1."""
    return str(
        configuration.get("aws_region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )


def before_experiment_control(context: Experiment, **kwargs: Any) -> None:
    """Stop the run before it starts when :func:`configure_control` found no usable
    sandbox (chaoslib only logs a failed ``configure_control`` at debug level)."""
    if _refusal is not None:
        raise InterruptExecution(_refusal)


def _refuse(message: str) -> None:
    """Have the run stopped before it starts, saying why in one line (chaoslib logs it)."""
    global _refusal
    _refusal = " ".join(message.split())
    logger.debug("%s", _refusal)


def _check_attached(configuration: Configuration, url: str) -> None:
    """One cheap call to the running sandbox at ``url``: a dead or wrong one is said in
    one line, within the client's connection budget."""
    try:
        client("sts", configuration).get_caller_identity()
    except ChaosException as error:
        _refuse(f"{error} (the sandbox control attached to {SANDBOX_URL_ENV} = {url})")
    except (BotoCoreError, ClientError) as error:
        _refuse(
            f"chaosthundra: the sandbox at {url} ({SANDBOX_URL_ENV}) does not answer as AWS: "
            f"{error}. Point {SANDBOX_URL_ENV} at `chaosthundra sandbox up`'s endpoint, or "
            "unset it so that the control starts a sandbox."
        )


def named_in(experiment: Experiment, configuration: Configuration, secrets: Secrets) -> set[str]:
    """Every string in the activities of ``experiment`` (hypothesis, method, rollbacks)
    once ``${...}`` are substituted, and in ``configuration``, with the function name
    of each Lambda ARN: the functions the run names are among them."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
            if ":function:" in value:
                found.add(value.split(":function:", 1)[1].split(":", 1)[0])
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    experiment = experiment or {}
    for part in ("steady-state-hypothesis", "method", "rollbacks"):
        walk(substitute(experiment.get(part), configuration, secrets))
    walk(dict(configuration or {}))
    return found


def cleanup_control() -> None:
    """Stop the sandbox started by :func:`configure_control`, if any."""
    global _sandbox, _refusal
    _refusal = None
    sandbox, _sandbox = _sandbox, None
    if sandbox is not None:
        sandbox.stop()


def current() -> Optional[Sandbox]:
    """The sandbox this control started, while it runs."""
    return _sandbox
