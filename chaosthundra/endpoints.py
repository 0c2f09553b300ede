"""Where requests go: the region, the target (the embedded sandbox or AWS), the endpoint.

Configuration keys follow chaostoolkit-aws: ``aws_region`` (else ``AWS_REGION`` /
``AWS_DEFAULT_REGION``) and ``aws_endpoint_url`` (else the standard
``AWS_ENDPOINT_URL``).

The target is the sandbox when the configuration's ``target`` is ``sandbox``, else
the environment's ``CHAOSTHUNDRA_TARGET`` is; or the sandbox control marked the run
with ``chaosthundra_sandbox``; or the endpoint is ``CHAOSTHUNDRA_SANDBOX_URL``. Its
endpoint must then be on this machine: ``aws_endpoint_url`` (what the control sets),
else ``CHAOSTHUNDRA_SANDBOX_URL``, else ``AWS_ENDPOINT_URL``. With none of them, or
one that is not loopback, :func:`check_sandbox_endpoint` raises InterruptExecution:
nothing may leave the machine.

A leaf: the client factory (:mod:`chaosthundra.aws`), the CLI and the load plan ask
it, and it imports nothing of chaosthundra.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Optional
from urllib.parse import urlsplit

from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Configuration

__all__ = [
    "SANDBOX_URL_ENV",
    "TARGET_ENV",
    "check_sandbox_endpoint",
    "is_loopback_url",
    "is_sandbox",
    "resolve_endpoint_url",
    "resolve_region",
    "resolve_target",
    "target_endpoint",
]

TARGET_ENV = "CHAOSTHUNDRA_TARGET"
SANDBOX_URL_ENV = "CHAOSTHUNDRA_SANDBOX_URL"
TARGETS = ("sandbox", "aws")
SANDBOX_CONTROL = "chaosthundra.controls.sandbox"


def resolve_region(configuration: Configuration = None) -> str:
    """The region from configuration, else the environment; interrupts when none."""
    configuration = configuration or {}
    region = (
        configuration.get("aws_region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise InterruptExecution(
            "chaosthundra: no AWS region set. Set 'aws_region' in the experiment's "
            "configuration, or AWS_REGION in the environment."
        )
    return str(region)


def resolve_target(configuration: Configuration = None) -> Optional[str]:
    """``sandbox`` or ``aws``, as the configuration's ``target`` says, else the
    environment's ``CHAOSTHUNDRA_TARGET``; None when neither says. InterruptExecution
    for any other value."""
    return _target_and_source(configuration)[0]


def _target_and_source(configuration: Configuration) -> tuple[Optional[str], str]:
    value = (configuration or {}).get("target")
    source = "the configuration's target"
    if value is None or str(value).strip() == "":
        value, source = os.environ.get(TARGET_ENV), TARGET_ENV
    if value is None or str(value).strip() == "":
        return None, ""
    target = str(value).strip().lower()
    if target not in TARGETS:
        raise InterruptExecution(
            f"chaosthundra: target {value!r} ({source}) is neither 'sandbox' nor 'aws'; "
            "refusing to guess where to send requests. Set it to 'sandbox' or 'aws'."
        )
    return target, source


def resolve_endpoint_url(configuration: Configuration = None) -> Optional[str]:
    """The endpoint URL override (sandbox or other emulator), if any.

    ``aws_endpoint_url`` first; for the sandbox, then ``CHAOSTHUNDRA_SANDBOX_URL``;
    then ``AWS_ENDPOINT_URL``."""
    configuration = configuration or {}
    if configuration.get("aws_endpoint_url"):
        return str(configuration["aws_endpoint_url"])
    if os.environ.get(SANDBOX_URL_ENV) and is_sandbox(configuration):
        return os.environ[SANDBOX_URL_ENV]
    return os.environ.get("AWS_ENDPOINT_URL") or None


def is_sandbox(configuration: Configuration = None) -> bool:
    """True when the target is the embedded sandbox: only dummy credentials are sent,
    and only to this machine."""
    return _sandbox_reason(configuration) is not None


def _sandbox_reason(configuration: Configuration) -> Optional[str]:
    """What says the target is the sandbox, or None."""
    configuration = configuration or {}
    if configuration.get("chaosthundra_sandbox"):
        return "the sandbox control marked the run (chaosthundra_sandbox)"
    sandbox_url = os.environ.get(SANDBOX_URL_ENV)
    explicit = configuration.get("aws_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    if sandbox_url and explicit == sandbox_url:
        return f"the endpoint is {SANDBOX_URL_ENV}"
    target, source = _target_and_source(configuration)
    return f"{source} is 'sandbox'" if target == "sandbox" else None


def check_sandbox_endpoint(configuration: Configuration = None) -> Optional[str]:
    """The sandbox endpoint to use, or None when the target is not the sandbox.

    InterruptExecution when the target is the sandbox and no endpoint on this machine
    is given: nothing may then leave the machine."""
    reason = _sandbox_reason(configuration)
    if reason is None:
        return None
    endpoint_url = resolve_endpoint_url(configuration)
    if not endpoint_url:
        raise InterruptExecution(
            f"chaosthundra: the target is the sandbox ({reason}) but no sandbox endpoint is "
            "set, so nothing is sent (real AWS would get the host's credentials). Add the "
            f"sandbox control (module {SANDBOX_CONTROL}) to the experiment's controls, or "
            f"set {SANDBOX_URL_ENV} to the endpoint of `chaosthundra sandbox up`; for real "
            "AWS, set target to 'aws'."
        )
    if not is_loopback_url(endpoint_url):
        raise InterruptExecution(
            f"chaosthundra: the target is the sandbox ({reason}) but the endpoint "
            f"{endpoint_url} is not on this machine; refusing to send anything there. Point "
            f"{SANDBOX_URL_ENV} (or aws_endpoint_url) at the sandbox on 127.0.0.1, or set "
            "target to 'aws' to use that endpoint with real credentials."
        )
    return endpoint_url


def target_endpoint(configuration: Configuration = None) -> Optional[str]:
    """The endpoint requests go to (None: AWS's own), checked for the sandbox as
    :func:`check_sandbox_endpoint` does."""
    return check_sandbox_endpoint(configuration) or resolve_endpoint_url(configuration)


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is a loopback address or ``localhost``."""
    try:
        host = urlsplit(str(url)).hostname or ""
    except ValueError:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
