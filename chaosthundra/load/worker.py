"""``chaosthundra load-worker``: a Locust worker with chaosthundra's user class.

The process becomes Locust (``exec``), so its pid is the worker's and a signal to it
reaches Locust itself. Its AWS configuration (region, profile, role, endpoint, or a
sandbox) goes to the user class in ``WORKER_ENV``; credentials come from the
standard chain of this machine, never from the master. A run that targets the
sandbox signs with the sandbox's dummy credentials only (see :mod:`.plan`).

The command itself, :func:`load_worker`, lives here; :mod:`chaosthundra.cli` registers it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click

from chaosthundra.cli_options import aws_configuration, aws_options
from chaosthundra.load.plan import LOCAL_ENV, WORKER_ENV, locustfile

__all__ = ["command", "exec_worker", "load_worker"]


def command(master_host: str, master_port: int, processes: int, loglevel: str) -> list[str]:
    """The Locust command line of a worker (``processes`` > 1: that many, forked)."""
    argv = [sys.executable, "-m", "locust", "--worker", "-f", locustfile()]
    argv += ["--master-host", master_host, "--master-port", str(master_port)]
    argv += ["--loglevel", loglevel]
    if processes > 1:
        argv += ["--processes", str(processes)]
    return argv


def exec_worker(
    master_host: str, master_port: int, processes: int, configuration: dict, loglevel: str
) -> NoReturn:
    """Replace this process with a Locust worker."""
    env = {k: v for k, v in os.environ.items() if k != LOCAL_ENV}
    env[WORKER_ENV] = json.dumps(configuration)
    argv = command(master_host, master_port, processes, loglevel)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


@click.command("load-worker")
@click.option(
    "--master-host",
    default="127.0.0.1",
    show_default=True,
    help="Host of the Locust master (the machine running measure_load).",
)
@click.option(
    "--master-port",
    type=click.IntRange(1, 65535),
    default=5557,
    show_default=True,
    help="Port of the Locust master.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes to run (Locust forks them).",
)
@aws_options
@click.pass_context
def load_worker(
    ctx: click.Context, master_host: str, master_port: int, processes: int, **aws: Any
) -> None:
    """Run a Locust worker for measure_load: it invokes with this machine's credentials.

    It joins the master, runs the users the master gives it, and exits when the
    master quits. With --sandbox-url (or when the run targets the sandbox) it signs
    with the sandbox's dummy credentials only.
    """
    verbose = ctx.parent is not None and ctx.parent.params.get("verbose")
    exec_worker(
        master_host,
        master_port,
        processes,
        aws_configuration(**aws),
        "DEBUG" if verbose else "INFO",
    )
