"""Actions: switch agent span listeners on and off for a Lambda function.

Each injection is one environment variable of the function, named after the
injection and the agent the function runs (see chaosthundra.agents). Enabling
writes it, disabling removes it; every other variable, layer, handler and
setting of the function is kept exactly as it was. Each action returns once the
change is live, that is once Lambda starts new execution environments with it.

Without a qualifier the variable goes into ``$LATEST``. With ``qualifier`` (an
alias name) it reaches the alias's traffic, or ``traffic_percentage`` of it,
through a published version that carries it (see ``chaosthundra.targets.alias``).
"""

import logging
from typing import Any, Optional

from chaoslib.types import Configuration, Secrets

from chaosthundra.engine.inject import enable
from chaosthundra.engine.remove import disable, remove_all
from chaosthundra.listeners import (
    error_listener,
    latency_listener,
)
from chaosthundra.targets.names import resolve as resolve_function

__all__ = [
    "enable_error_injection",
    "disable_error_injection",
    "enable_latency_injection",
    "disable_latency_injection",
    "remove_all_injections",
]

logger = logging.getLogger("chaostoolkit")


def enable_error_injection(
    function_name: str,
    error_type: str = "Exception",
    error_message: str = "Error injected by chaosthundra",
    class_name: str = None,
    operation_name: str = None,
    domain_name: str = None,
    tags: dict = None,
    inject_on_finish: bool = False,
    every: int = 1,
    injection_name: str = "error",
    verify: Any = None,
    qualifier: str = None,
    traffic_percentage: float = 100,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Make the function raise `error_type` on matching spans (downstream calls).

    Scope the fault with `class_name` (for example "Redis", "AWS-Lambda",
    "AWS-DynamoDB"), `operation_name`, `domain_name` and span `tags` (for
    example {"redis.command.type": "GET"}); at least one is required. The error
    is raised on 1 matching span in `every`. `error_type` is a builtin exception
    or a dotted path importable in the function's runtime, such as
    "redis.ConnectionError" (with redis in its package) or
    "boto3.exceptions.Boto3Error" (the runtime provides boto3), that the agent can
    build from the message alone ("botocore.exceptions.ClientError" it cannot).
    Returns once new execution environments get the fault. With `verify` (a payload), the
    function is then invoked until a span shows the fault fired; if none does,
    the injection is removed and the action fails with the reason. Undo with
    `disable_error_injection` (same `injection_name`) or `remove_all_injections`.

    Without `qualifier` the fault goes into $LATEST, which aliases pointing at
    published versions do not run (the result names them). With `qualifier`,
    an alias name, it reaches that alias's traffic: `traffic_percentage` of it
    (0 < p <= 100) runs a published version that carries the fault; $LATEST must
    match the alias's version, or nothing is published. Undo with the same
    `qualifier`. `function_name` may also be an ARN or name:alias.

    The injection is owned by this run: another run's enable of the same name
    (names are case-insensitive) on the function is refused while this run
    lives, and only this run's rollback removes it. `force=True` takes over a
    name another live run holds.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return enable(
        function_name,
        injection_name,
        lambda filters: error_listener(
            filters,
            error_type=error_type,
            error_message=error_message,
            inject_on_finish=inject_on_finish,
            every=every,
        ),
        _filter_args(class_name, operation_name, domain_name, tags),
        verify,
        qualifier,
        traffic_percentage,
        configuration,
        secrets,
        force,
    )


def enable_latency_injection(
    function_name: str,
    delay: int,
    variation: int = 0,
    sigma: int = 0,
    distribution: str = "uniform",
    class_name: str = None,
    operation_name: str = None,
    domain_name: str = None,
    tags: dict = None,
    injection_name: str = "latency",
    verify: Any = None,
    qualifier: str = None,
    traffic_percentage: float = 100,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Make matching spans (downstream calls) of the function slower.

    `delay` is in milliseconds, added before the call starts. With
    distribution "uniform", each delay is drawn from delay ± `variation` ms;
    with "normal", from a normal distribution of standard deviation `sigma` ms.
    Scope the fault with `class_name`, `operation_name`, `domain_name` and
    `tags` (for example class_name "AWS-Lambda" with tags
    {"aws.lambda.name": "upstream-lambda"}); at least one is required. Returns
    once new execution environments get the fault. With `verify` (a payload),
    the function is then invoked once and a span must show the delay, or the
    injection is removed and the action fails with the reason. Undo with
    `disable_latency_injection` (same `injection_name`) or
    `remove_all_injections`. `qualifier` (an alias name) and
    `traffic_percentage` aim the fault at that alias's traffic, as for
    `enable_error_injection`. Each of delay, variation and sigma is at most
    900000 ms (Lambda's 900 s maximum timeout). Owned by this run, as there;
    `force=True` takes over a name another live run holds.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return enable(
        function_name,
        injection_name,
        lambda filters: latency_listener(
            filters, delay=delay, variation=variation, sigma=sigma, distribution=distribution
        ),
        _filter_args(class_name, operation_name, domain_name, tags),
        verify,
        qualifier,
        traffic_percentage,
        configuration,
        secrets,
        force,
    )


def disable_error_injection(
    function_name: str,
    injection_name: str = "error",
    qualifier: str = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Remove the named error injection from the function (undoes enable_error_injection).

    Only that injection's variable is removed; a change anyone else made in the
    meantime is kept. Does nothing, and says so, when the injection is not there.
    It is read back until it is gone, and the action fails if it keeps coming back.
    Another run's injection of that name is left in place (status "left"), unless
    `force=True`. With `qualifier` (an alias), the alias's other injections stay;
    removing its last routes the alias exactly as before and deletes the chaos version.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return disable(function_name, injection_name, "error", qualifier, configuration, secrets, force)


def disable_latency_injection(
    function_name: str,
    injection_name: str = "latency",
    qualifier: str = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Remove the named latency injection from the function (undoes enable_latency_injection).

    Only that injection's variable is removed; a change anyone else made in the
    meantime is kept. Does nothing, and says so, when the injection is not there.
    Another run's injection is left in place unless `force=True`. With `qualifier`
    (an alias), as for `disable_error_injection`.
    """
    function_name, qualifier = resolve_function(function_name, qualifier, configuration, secrets)
    return disable(
        function_name, injection_name, "latency", qualifier, configuration, secrets, force
    )


def remove_all_injections(
    function_name: str,
    qualifier: str = None,
    force: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict:
    """Remove every chaosthundra injection this run made on the function.

    Span listeners that chaosthundra did not write (foreign Thundra listener
    variables) and all other variables are left exactly as they are, and so are
    injections another run owns (listed as "left"); `force=True` removes those too,
    as the kill switch `chaosthundra clear` does. With `qualifier` (an alias), the
    alias is routed exactly as before its first injection and chaosthundra's
    versions for it are deleted.
    """
    return remove_all(function_name, qualifier, force, configuration, secrets)


# ------------------------------------------------------------------ internals
def _filter_args(
    class_name: Optional[str],
    operation_name: Optional[str],
    domain_name: Optional[str],
    tags: Optional[dict],
) -> dict:
    return dict(
        class_name=class_name, operation_name=operation_name, domain_name=domain_name, tags=tags
    )


# ------------------------------------------------------------------ ownership


# ------------------------------------------------------------- proven removal
