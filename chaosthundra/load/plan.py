"""What a load run asks for, as the master hands it to every worker, and the AWS
configuration a worker invokes with.

The plan travels from the master to the workers as a Locust option (over Locust's
own connection), so it holds no secret: a worker signs with its own credential
chain. When the plan's target is the sandbox, every worker signs with the sandbox's
dummy credentials and nothing else, whatever its own environment holds.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Optional

__all__ = [
    "DONE_MESSAGE",
    "FINISH_MESSAGE",
    "LOCAL_ENV",
    "WORKER_ENV",
    "Plan",
    "locustfile",
    "worker_configuration",
]

# The chaos process's own configuration and secrets, for Locust processes it starts
# on this machine (a local run, and its forked workers): never sent over the wire.
LOCAL_ENV = "CHAOSTHUNDRA_LOAD_LOCAL"
# A `chaosthundra load-worker`'s own configuration (its options), no secrets.
WORKER_ENV = "CHAOSTHUNDRA_LOAD_WORKER"
# The master asks its workers to stop their users and report for the last time...
FINISH_MESSAGE = "chaosthundra_finish"
# ...and each answers, after its last stats, with how many invokes it sent.
DONE_MESSAGE = "chaosthundra_done"
# The configuration keys that name the target, not who signs: sent to workers.
TARGET_KEYS = ("aws_region", "aws_endpoint_url", "chaosthundra_sandbox")


@dataclass(frozen=True)
class Plan:
    """One run: which function, with what payload, how fast each user invokes."""

    function_name: str
    payload: str  # JSON text
    qualifier: Optional[str]
    users: int
    duration: int  # seconds of load, from the start of the first user
    rps: Optional[float]  # the whole run's asked rate; None: as fast as answers come
    target: dict  # TARGET_KEYS of the chaos process's configuration

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls(**json.loads(text))

    @property
    def per_user_rps(self) -> Optional[float]:
        return self.rps / self.users if self.rps else None


def target_of(configuration: Optional[dict]) -> dict:
    """The part of a configuration that says where to invoke, not who signs.

    For the sandbox, InterruptExecution when there is no endpoint on this machine,
    before any Locust process starts (:func:`chaosthundra.endpoints.target_endpoint`)."""
    from chaosthundra.endpoints import is_sandbox, resolve_region, target_endpoint

    configuration = configuration or {}
    return {
        "aws_region": resolve_region(configuration),
        "aws_endpoint_url": target_endpoint(configuration),
        "chaosthundra_sandbox": is_sandbox(configuration),
    }


def worker_configuration(plan: Plan, environ: Any = os.environ) -> tuple[dict, dict]:
    """The (configuration, secrets) a Locust process invokes with.

    A process the chaos process started on this machine uses the chaos process's own
    configuration and secrets (``LOCAL_ENV``). A ``load-worker`` uses its own options
    and credential chain, with the plan's region when it names none; when the plan
    targets the sandbox, only the plan's endpoint and the sandbox's dummy credentials.
    """
    local = environ.get(LOCAL_ENV)
    if local:
        given = json.loads(local)
        return given["configuration"], given["secrets"]
    own = json.loads(environ.get(WORKER_ENV) or "{}")
    if plan.target.get("chaosthundra_sandbox") or own.get("chaosthundra_sandbox"):
        target = own if own.get("chaosthundra_sandbox") else plan.target
        return {**target, "chaosthundra_sandbox": True}, {}
    return {"aws_region": plan.target.get("aws_region"), **own}, {}


def locustfile() -> str:
    """The path of the locustfile that holds chaosthundra's user class."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "locustfile.py")
