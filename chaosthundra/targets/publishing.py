"""Publishing a chaos version: ``$LATEST`` carries an alias's injections for one
PublishVersion, then gets its own variables back.

:func:`refuse_unreleased` comes first: when ``$LATEST`` differs from the version the
alias runs in anything but chaosthundra's variables, publishing would ship what was
never released. :func:`publish_with` writes the injections into ``$LATEST``
(``latest.update``), publishes with the chaos version's Description, puts back only
chaosthundra's keys, and waits until the new version is Active; the write is a
``ledger.step``, so ``$LATEST`` is put back when it is cut short.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Mapping, Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError, WaiterError
from chaoslib.exceptions import ActivityFailed

from chaosthundra import interrupts
from chaosthundra.listeners import ENV_LIMIT_BYTES, decode, encode, env_size
from chaosthundra.safety import ledger
from chaosthundra.targets import latest
from chaosthundra.targets.chaos_versions import injection_names, list_versions, not_ours, ours
from chaosthundra.targets.routing import Mark

__all__ = ["publish_with", "refuse_unreleased", "settings_differences"]

logger = logging.getLogger("chaostoolkit")

# PublishVersion answers: $LATEST moved since our write (412), or is being updated (409)
_MOVED = ("PreconditionFailedException", "ResourceConflictException")

# Fields of a configuration that do not make a version's behaviour: identity,
# state, and what PublishVersion sets itself. The environment is compared apart.
_NOT_SETTINGS = frozenset(
    {
        "ResponseMetadata",
        "Environment",
        "FunctionArn",
        "Version",
        "RevisionId",
        "LastModified",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
        "State",
        "StateReason",
        "StateReasonCode",
        "Description",
        "MasterArn",
        "RuntimeVersionConfig",
    }
)


# -------------------------------------------------- refusing the unreleased
def settings_differences(latest_config: Mapping, version: Mapping, version_name: str) -> list[str]:
    """What would change if ``$LATEST`` were published in place of ``version``.

    Compares every setting and the variables other than chaosthundra's; names
    variables but never prints their values.
    """
    found = []
    for key in sorted(set(latest_config) | set(version)):
        if key in _NOT_SETTINGS:
            continue
        mine, theirs = _setting(latest_config, key), _setting(version, key)
        if mine != theirs:
            what = "code (CodeSha256)" if key == "CodeSha256" else key
            found.append(f"{what}: $LATEST has {mine!r}, version {version_name} has {theirs!r}")
    mine_env = not_ours(latest.variables_of(latest_config))
    theirs_env = not_ours(latest.variables_of(version))
    for key in sorted(set(mine_env) | set(theirs_env)):
        if key not in theirs_env:
            found.append(f"variable {key}: only in $LATEST")
        elif key not in mine_env:
            found.append(f"variable {key}: only in version {version_name}")
        elif mine_env[key] != theirs_env[key]:
            found.append(f"variable {key}: a different value")
    return found


def _setting(configuration: Mapping, key: str) -> object:
    value = configuration.get(key)
    if key == "SnapStart" and isinstance(value, Mapping):
        # OptimizationStatus is On for versions and Off for $LATEST by nature.
        return {"ApplyOn": value.get("ApplyOn")}
    return value


def refuse_unreleased(
    function_name: str, alias_name: str, latest_config: Mapping, base_config: Mapping, base: str
) -> None:
    """Refuse when publishing $LATEST in place of version ``base`` would ship what was
    never released (see :func:`settings_differences`)."""
    differences = settings_differences(latest_config, base_config, base)
    if differences:
        raise ActivityFailed(
            f"chaosthundra: cannot inject into alias '{alias_name}' of '{function_name}': a "
            f"fault reaches it through a version published from $LATEST, and $LATEST differs "
            f"from version {base}, which the alias runs: {'; '.join(differences)}. Publishing "
            "would ship what was never released. Deploy so that $LATEST matches the alias's "
            "version (or point the alias at $LATEST's published version), then retry."
        )


# --------------------------------------------------------------- publishing
def _reencoded(variables: Mapping[str, str]) -> Optional[dict[str, str]]:
    """``variables`` with one of our values in its other encoding (plain JSON or
    base64(gzip)), which the agent reads as the same config; None when none fits in
    4 KB. When $LATEST already holds exactly what the alias's version must carry,
    PublishVersion may publish nothing new (nothing changed since the last version,
    which may have been a chaos version deleted since): this makes the write a change.
    """
    for key in sorted(ours(variables)):
        value = variables[key]
        try:
            config = decode(value)
        except (ValueError, OSError, EOFError):
            continue
        other = encode(config, compress=value.lstrip().startswith("{"))
        candidate = {**variables, key: other}
        if other != value and env_size(candidate) <= ENV_LIMIT_BYTES:
            return candidate
    return None


def publish_with(
    lam: BaseClient,
    function_name: str,
    latest_config: dict,
    base_config: Mapping,
    variables: Mapping[str, str],
    mark: Mark,
    wait_timeout: float,
) -> dict:
    """Publish a version of $LATEST carrying ``variables``; $LATEST is put back after."""
    existing = {str(v["Version"]) for v in list_versions(lam, function_name)}
    wanted = ours(variables)
    released = not_ours(latest.variables_of(base_config))
    touched: dict[str, Optional[str]] = {}

    def carry(env: dict[str, str]) -> dict[str, str]:
        if not_ours(env) != released:
            refuse_unreleased(
                function_name,
                mark.alias,
                {**latest_config, "Environment": {"Variables": env}},
                base_config,
                mark.base,
            )
        touched.clear()
        touched.update({k: env.get(k) for k in set(ours(env)) | set(wanted)})
        carried = not_ours(env) | wanted
        if carried == env:  # Lambda publishes nothing new of an unchanged $LATEST
            carried = _reencoded(carried) or carried
        return carried

    put_back = latest.restoring(touched)  # reads ``touched`` when it runs

    kwargs = {"FunctionName": function_name, "Description": mark.description()}
    if base_config.get("CodeSha256"):
        kwargs["CodeSha256"] = base_config["CodeSha256"]
    carrying = ledger.step(
        f"$LATEST of '{function_name}' carrying {', '.join(injection_names(wanted))} while a "
        f"version is published for alias '{mark.alias}'",
        lambda: _put_back(lam, function_name, put_back),
    )
    with carrying:
        published = _publish_carrying(
            lam, function_name, carry, put_back, kwargs, latest_config, wait_timeout
        )
    version = str(published["Version"])
    problem = None
    if version in existing:
        problem = f"version {version}, which existed before (Lambda published nothing new)"
    elif published.get("Description") != mark.description():
        problem = f"version {version}, which does not carry chaosthundra's description"
    if problem:
        raise ActivityFailed(
            f"chaosthundra: PublishVersion of '{function_name}' answered with {problem}. Nothing "
            "was routed to it and $LATEST is as it was. Check the function's versions, then "
            "run 'chaosthundra status'."
        )
    _wait_active(lam, function_name, version, wait_timeout)
    return published


def _publish_carrying(
    lam: BaseClient,
    function_name: str,
    carry: Callable[[dict[str, str]], dict[str, str]],
    put_back: Callable[[dict[str, str]], dict[str, str]],
    kwargs: Mapping,
    latest_config: dict,
    wait_timeout: float,
) -> dict:
    """Write ``carry`` into $LATEST, publish it, put $LATEST back (with ``put_back``) after
    each attempt; retried from a fresh read while $LATEST moves under the publish."""
    current: Optional[dict] = latest_config
    for attempt in range(1, latest.MAX_ATTEMPTS + 1):
        change = latest.update(
            lam, function_name, carry, current=current, wait_timeout=wait_timeout
        )
        current = None  # every retry reads afresh
        moved = None
        try:
            published = lam.publish_version(
                **kwargs, **({"RevisionId": change.revision_id} if change.revision_id else {})
            )
            interrupts.checkpoint("publish")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _MOVED or attempt == latest.MAX_ATTEMPTS:
                raise latest.activity_failed(
                    "publish a version of", function_name, error
                ) from error
            moved = code
        finally:
            if change.changed:
                _put_back(lam, function_name, put_back)
        if moved is None:
            return published
        # $LATEST changed or got busy between our write and PublishVersion: again, from a
        # fresh read (which refuses if what changed would now be published)
        logger.info(
            "chaosthundra: %s publishing '%s' (attempt %d/%d), re-reading and retrying",
            moved,
            function_name,
            attempt,
            latest.MAX_ATTEMPTS,
        )
        time.sleep(latest.RETRY_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _put_back(
    lam: BaseClient, function_name: str, put_back: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    try:
        latest.update(lam, function_name, put_back)
    except ActivityFailed as error:
        raise ActivityFailed(
            f"chaosthundra: $LATEST of '{function_name}' still carries the injections it held "
            f"while a chaos version was published, because putting its variables back failed: "
            f"{error} Run 'chaosthundra clear --function {function_name}'."
        ) from error


def _wait_active(lam: BaseClient, function_name: str, version: str, timeout: float) -> None:
    try:
        lam.get_waiter("function_active_v2").wait(
            FunctionName=function_name,
            Qualifier=version,
            WaiterConfig={
                "Delay": latest.POLL_SECONDS,
                "MaxAttempts": max(1, int(timeout / latest.POLL_SECONDS)),
            },
        )
    except WaiterError as error:
        raise ActivityFailed(
            f"chaosthundra: version {version} of Lambda function '{function_name}' did not "
            f"become Active: {error}. Run 'chaosthundra clear' to remove it."
        ) from error
