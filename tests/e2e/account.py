"""Where the tests marked ``aws`` run: a real AWS account, or a `chaosthundra sandbox up`
process reached the way an account is.

- ``sandbox-up`` (always): `chaosthundra sandbox up` deploys functions/template.yaml in
  a process of its own; `chaos run` gets only what its ``export`` lines print
  (``AWS_ENDPOINT_URL``, the dummy keys, the region) and ``CHAOSTHUNDRA_TARGET=aws``,
  so the code path is a real account's: boto3 against an endpoint, the sandbox control
  idle. Every socket the run opens off this machine is refused and recorded.
- ``aws`` (only with ``CHAOSTHUNDRA_TEST_TARGET=aws``): the account of the standard
  credential chain. ``sam build`` and ``sam deploy`` create the stack
  ``CHAOSTHUNDRA_TEST_STACK`` (default chaosthundra-test), the seed data is loaded, and
  ``sam delete`` removes the stack at the end, even after a failure. The Redis
  experiments need ``CHAOSTHUNDRA_TEST_REDIS_URL``: a Redis both the functions and this
  machine reach (AWS has none to lend; the template's default is a placeholder).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import boto3
import pytest

from chaosthundra import runtimes
from chaosthundra.cache import cache_base
from chaosthundra.sandbox.sam import load_seed, load_template
from tests.e2e.conftest import BIN, REPO

TARGETS = ("sandbox-up", "aws")
TARGET_ENV = "CHAOSTHUNDRA_TEST_TARGET"
TEMPLATE = REPO / "functions" / "template.yaml"
SEED = REPO / "functions" / "seed.json"
GUARD = REPO / "tests" / "no_remote"
STARTUP_S = 300  # a first deploy builds the functions' packages
# Besides AWS_*: what would point a run elsewhere than the sandbox up process.
_NOT_PASSED = ("CHAOSTHUNDRA_SANDBOX_URL", "CHAOSTHUNDRA_TARGET")


@dataclass
class Account:
    """One deployment of the template, and how `chaos run` and the test reach it."""

    target: str
    env: dict[str, str]
    redis_url: Optional[str]
    refused: Optional[Path] = None  # sandbox-up: sockets off the machine, one a line

    def client(self, service: str) -> Any:
        """A boto3 client reaching what `chaos run` reaches."""
        env = self.env
        return boto3.client(
            service,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        )

    def require_redis(self) -> None:
        if not self.redis_url:
            pytest.skip(
                "on AWS the Redis experiments need CHAOSTHUNDRA_TEST_REDIS_URL: a Redis "
                "that the functions and this machine both reach"
            )

    def sockets_off_the_machine(self) -> list[str]:
        """What the runs tried to reach off this machine (sandbox-up only; none allowed)."""
        if self.refused is None or not self.refused.exists():
            return []
        return self.refused.read_text().splitlines()


def open_account(target: str, tmp: Path) -> Iterator[Account]:
    """The template deployed on ``target``, torn down when the generator is closed."""
    if target == "sandbox-up":
        yield from _sandbox_up(tmp)
    elif os.environ.get(TARGET_ENV, "").strip().lower() != "aws":
        pytest.skip(
            f"runs on a real AWS account only: set {TARGET_ENV}=aws and credentials "
            "(see docs/development.md, 'Prove it on a real account')"
        )
    else:
        yield from _aws(tmp)


def _lines(stream: Any) -> queue.Queue:
    """The lines of ``stream`` as they come (None at its end), read by a thread."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _sandbox_up(tmp: Path) -> Iterator[Account]:
    log = tmp / "sandbox-up.log"
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in _NOT_PASSED
    }
    with open(log, "w") as errors:
        process = subprocess.Popen(
            [str(BIN / "chaosthundra"), "sandbox", "up", "--template", str(TEMPLATE)],
            cwd=tmp,
            env=base,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        lines, exports = _lines(process.stdout), {}
        while "CHAOSTHUNDRA_REDIS_URL" not in exports:
            try:
                line = lines.get(timeout=STARTUP_S)
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"chaosthundra sandbox up did not start: {log.read_text()}")
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
        _build_runtime_packages()
        refused = tmp / "refused-sockets"
        env = {
            **base,
            **exports,
            "CHAOSTHUNDRA_TARGET": "aws",
            "PYTHONPATH": str(GUARD),
            "CHAOSTHUNDRA_TEST_NO_REMOTE": str(refused),
        }
        yield Account("sandbox-up", env, exports["CHAOSTHUNDRA_REDIS_URL"], refused)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _build_runtime_packages() -> None:
    """Build what the template's runtimes provide (boto3, botocore), as the agent check
    of the first run would: that first build downloads wheels with pip, from a package
    index, which the guard of the runs would count as leaving the machine. The runs,
    this process and the sandbox see one PATH, so they find the same interpreters."""
    template = load_template(TEMPLATE)
    names = {((template.get("Globals") or {}).get("Function") or {}).get("Runtime")}
    names |= {r.get("Properties", {}).get("Runtime") for r in template["Resources"].values()}
    for found in filter(None, map(runtimes.interpreter, filter(None, names))):
        runtimes.provided_packages(found, cache_base() / "runtimes")


def _aws(tmp: Path) -> Iterator[Account]:
    sam = shutil.which("sam")
    if sam is None:
        pytest.fail(
            f"{TARGET_ENV}=aws: the AWS run deploys with the AWS SAM CLI; install it "
            "(`sam` on PATH)",
            pytrace=False,
        )
    env = {k: v for k, v in os.environ.items() if k != "CHAOSTHUNDRA_SANDBOX_URL"}
    if not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
        pytest.fail(f"{TARGET_ENV}=aws: set AWS_REGION to the account's region", pytrace=False)
    env["CHAOSTHUNDRA_TARGET"] = "aws"
    stack = env.get("CHAOSTHUNDRA_TEST_STACK", "chaosthundra-test")
    redis_url = env.get("CHAOSTHUNDRA_TEST_REDIS_URL") or None
    built = tmp / "sam-build"
    subprocess.run(
        [sam, "build", "--template-file", str(TEMPLATE), "--build-dir", str(built)],
        cwd=TEMPLATE.parent,
        env=env,
        check=True,
    )
    deploy = [sam, "deploy", "--template-file", str(built / "template.yaml")]
    deploy += ["--stack-name", stack, "--capabilities", "CAPABILITY_IAM", "--resolve-s3"]
    deploy += ["--no-confirm-changeset", "--no-fail-on-empty-changeset"]
    if redis_url:
        deploy += ["--parameter-overrides", f"RedisUrl={redis_url}"]
    try:
        subprocess.run(deploy, env=env, check=True)
        account = Account("aws", env, redis_url)
        _seed(account)
        yield account
    finally:
        subprocess.run([sam, "delete", "--stack-name", stack, "--no-prompts"], env=env, check=True)


def _seed(account: Account) -> None:
    """Load functions/seed.json, as the sandbox does when it deploys the template."""
    import redis

    seed = load_seed(SEED)
    dynamodb = boto3.resource(
        "dynamodb", region_name=account.env.get("AWS_REGION") or account.env["AWS_DEFAULT_REGION"]
    )
    for table, items in seed["dynamodb"].items():
        with dynamodb.Table(table).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)
    if account.redis_url and seed["redis"]:
        redis.Redis.from_url(account.redis_url).mset(seed["redis"])
