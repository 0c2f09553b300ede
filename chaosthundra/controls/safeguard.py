"""Chaos Toolkit control: whatever way a run ends, remove the injections it made.

Chaos Toolkit's default rollback strategy skips rollbacks when a run ends
"failed" or "interrupted", and `--rollback-strategy never` skips them always.
This control does not depend on rollbacks: every chaosthundra action records
what it enabled, and at the end of the experiment (completed, deviated, failed,
aborted, or interrupted by Ctrl-C, SIGTERM or SIGHUP) whatever is still active
is removed, each removal logged. Only our own variables are touched.

Declare it in an experiment::

    "controls": [{"name": "chaosthundra-safeguard",
                  "provider": {"type": "python",
                               "module": "chaosthundra.controls.safeguard"}}]

or for every run, in ~/.chaostoolkit/settings.yaml::

    controls:
      chaosthundra-safeguard:
        provider:
          type: python
          module: chaosthundra.controls.safeguard

While the run lasts, SIGTERM and SIGHUP stop it as chaoslib's SIGUSR1 does
(SystemExit: rollbacks and controls still run). chaoslib's own SIGTERM handler
raises an exception that botocore takes for a transient HTTP error, and retries,
when it lands in a request, and that the python provider turns into a mere
activity failure otherwise: either way the run went on. SIGHUP (a closed
terminal or SSH session) would end the process with the fault on.

A process killed with SIGKILL runs no control at all: use
`chaosthundra clear` for that case.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Experiment, Journal, Secrets, Settings

from chaosthundra import interrupts
from chaosthundra.agents import parser_process
from chaosthundra.aws import client
from chaosthundra.safety import ledger
from chaosthundra.targets.latest import read

__all__ = [
    "configure_control",
    "before_experiment_control",
    "after_experiment_control",
    "cleanup_control",
    "sweep",
]

logger = logging.getLogger("chaostoolkit")

STOP_KEEPING_ROLLBACKS = interrupts.STOP_KEEPING_ROLLBACKS

_restore_signals: Optional[Callable[[], None]] = None


def configure_control(
    configuration: Configuration = None,
    secrets: Secrets = None,
    settings: Settings = None,
    experiment: Experiment = None,
) -> None:
    """Start the run with an empty record; SIGTERM and SIGHUP now stop the run wherever
    they land."""
    ledger.clear()
    _stop_on_signals()
    logger.debug("chaosthundra safeguard: armed")


def before_experiment_control(context: Experiment, **kwargs: Any) -> None:
    """Start the agent check's spare checker process, so that the first enable finds it
    ready (importing chaosthundra starts no process)."""
    parser_process.warm_up()


def after_experiment_control(context: Experiment, state: Journal = None, **kwargs: Any) -> None:
    """Remove every injection still active; note what was removed in the journal."""
    removed = sweep()
    if isinstance(state, dict):
        state.setdefault("chaosthundra", {}).setdefault("safeguard_removed", []).extend(removed)


def cleanup_control() -> None:
    """Last chance: runs even when the end of the experiment was never reached."""
    try:
        sweep()
    finally:
        _restore_handlers()


def sweep() -> list[dict]:
    """Remove what the ledger says is, or may be, still active; returns what was removed.

    Write steps an interrupt cut short, whose own undo failed, are undone first. Each
    function is re-read: a pending entry (an enable that never returned) is removed
    only if its variable made it onto the function, and nothing is removed from a
    function the credentials now reach in another account. SIGINT, SIGTERM and
    SIGHUP wait until the sweep is done.
    """
    with interrupts.deferred("the safeguard's sweep"):
        ledger.undo_steps()
        return _sweep_entries()


def _sweep_entries() -> list[dict]:
    removed = []
    for entry in ledger.active():
        try:
            result = _remove(entry)
        except Exception as error:  # noqa: BLE001 - keep going, report every failure
            logger.error(
                "chaosthundra safeguard: could not remove injection '%s' from '%s': %s. "
                "Run `chaosthundra clear --function %s`.",
                entry.injection_name,
                entry.function_name,
                error,
                entry.function_name,
            )
            continue
        ledger.record_removed(entry)
        if result["status"] != "disabled":
            logger.debug(
                "chaosthundra safeguard: %s injection '%s' was not on '%s'",
                entry.state,
                entry.injection_name,
                entry.function_name,
            )
            continue
        logger.info(
            "chaosthundra safeguard: removed %s injection '%s' from '%s'%s%s",
            result["kind"],
            entry.injection_name,
            entry.function_name,
            f" (alias '{entry.qualifier}')" if entry.qualifier else "",
            " (pending: its enable never completed)" if entry.state == ledger.PENDING else "",
        )
        removed.append(
            {
                "function_name": entry.function_name,
                "qualifier": entry.qualifier,
                "injection_name": entry.injection_name,
                "kind": result["kind"],
                "state": entry.state,
            }
            | ({"alias_moved": result["alias_moved"]} if "alias_moved" in result else {})
        )
    return removed


def _remove(entry: ledger.Entry) -> dict:
    from chaosthundra.engine.remove import remove_injection

    lam = client("lambda", entry.configuration, entry.secrets)
    arn = str(read(lam, entry.function_name).get("FunctionArn") or "")
    if entry.account and f":{entry.account}:" not in arn:
        raise ActivityFailed(
            f"the credentials now reach {arn or 'a function without an ARN'}, not account "
            f"{entry.account} where the injection was made; nothing removed"
        )
    return remove_injection(
        entry.function_name,
        entry.injection_name,
        entry.configuration,
        entry.secrets,
        entry.qualifier,
    )


def _stop_on_signals() -> None:
    global _restore_signals
    if _restore_signals is None:
        _restore_signals = interrupts.install(replace_any=True)


def _restore_handlers() -> None:
    global _restore_signals
    if _restore_signals is not None:
        _restore_signals()
        _restore_signals = None
