"""``chaosthundra load-worker``: a Locust worker with chaosthundra's user class.

The process becomes Locust (``exec``), so its pid is the worker's and a signal to it
reaches Locust itself. Its AWS configuration (region, profile, role, endpoint, or a
sandbox) goes to the user class in ``WORKER_ENV``; credentials come from the
standard chain of this machine, never from the master. A run that targets the
sandbox signs with the sandbox's dummy credentials only (see :mod:`.plan`).
"""

from __future__ import annotations

import json
import os
import sys
from typing import NoReturn

from chaosthundra.load.plan import LOCAL_ENV, WORKER_ENV, locustfile

__all__ = ["command", "exec_worker"]


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
