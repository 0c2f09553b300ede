"""Apply a :class:`~chaosthundra.sandbox.deploy_plan.Plan` to a running sandbox.

Everything goes through the sandbox's own AWS API (boto3 against its endpoint), as a
deployment tool would: an IAM role for the functions, the tables, the functions
(created, or updated in place when they exist), then the seed data. As ``sam deploy``
does, each package is uploaded once to S3 (a bucket of the sandbox) and the functions
name it there, so a package shared by several functions crosses the wire once, as
bytes rather than base64 in JSON; a function whose code is unchanged keeps it.

A package's requirements are installed by the pip of its function's Runtime's
interpreter (:mod:`.packages`): one CodeUri shared by a python3.11 and a python3.12
function makes two packages. A function whose Runtime has no interpreter here, or is
not Python, is deployed all the same (its invokes are refused, see :mod:`.pythons`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

import redis
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from chaosthundra import runtimes

from .credentials import client as sandbox_client
from .deploy_plan import FunctionPlan, Plan, TablePlan
from .errors import SandboxError, TemplateError
from .gate import HEADER
from .packages import PackageError, package_zip
from .sam import load_seed

__all__ = ["Deployment", "Later", "apply_plan"]

logger = logging.getLogger("chaostoolkit")

ROLE_NAME = "chaosthundra-sandbox-lambda"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# The sandbox is local: poll its update states often (5 minutes at most).
_WAIT = {"Delay": 0.2, "MaxAttempts": 1500}
CODE_BUCKET = "chaosthundra-sandbox-code"

# (zip, its CodeSha256, the first function that uses it)
OnPackage = Callable[[bytes, str, FunctionPlan], None]
# The interpreter of a Runtime, or None (not Python, or none here).
FindPython = Callable[[str], Optional[runtimes.Interpreter]]
# Deploys the deferred functions: (called with each function deployed, asked before
# each function whether to go on).
Later = Callable[[Callable[[str], None], Callable[[], bool]], None]
_marking = threading.local()  # .token: the gate token this thread's requests carry


@dataclass
class Deployment:
    """What a deployment created or updated (names; the Runtime of each function)."""

    template: Path
    tables: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    runtimes: dict[str, str] = field(default_factory=dict)
    seeded_items: int = 0
    seeded_keys: int = 0


def _code(plan: FunctionPlan, python: Optional[runtimes.Interpreter]) -> bytes:
    if plan.code.is_file():
        return plan.code.read_bytes()
    try:
        return package_zip(plan.code, python=python)
    except PackageError as exc:
        raise TemplateError(f"function {plan.name}: cannot build its package: {exc}") from None


def client(service: str, configuration: dict[str, Any]) -> Any:
    """A client of the sandbox that ``configuration`` (see ``Sandbox.configuration``)
    points at; the requests a deployment makes with it carry its gate token."""
    shared = sandbox_client(service, configuration["aws_endpoint_url"], configuration["aws_region"])
    shared.meta.events.register("request-created", _mark, unique_id=__name__)
    return shared


def _mark(request: Any, **_: Any) -> None:
    token = getattr(_marking, "token", None)
    if token is not None:
        request.headers[HEADER] = token


@contextlib.contextmanager
def _marked(token: Optional[str]) -> Iterator[None]:
    """Requests of this thread carry ``token`` (the sandbox's gate lets them pass)."""
    _marking.token = token
    try:
        yield
    finally:
        _marking.token = None


def _role_arn(configuration: dict[str, Any]) -> str:
    iam = client("iam", configuration)
    try:
        role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(_TRUST))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        role = iam.get_role(RoleName=ROLE_NAME)
    return str(role["Role"]["Arn"])


def _create_table(dynamodb: Any, table: TablePlan) -> None:
    try:
        dynamodb.create_table(**table.create_args)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        logger.info("chaosthundra sandbox: table %s exists, left as it is", table.name)
        return
    if table.ttl and table.ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table.name,
            TimeToLiveSpecification={
                "Enabled": True,
                "AttributeName": table.ttl["AttributeName"],
            },
        )
    logger.debug("chaosthundra sandbox: created table %s", table.name)


class _CodeStore:
    """The packages of one deployment: each built, hashed and uploaded to the sandbox's
    S3 once, however many functions share it."""

    def __init__(
        self,
        configuration: dict[str, Any],
        on_package: Optional[OnPackage],
        find_python: FindPython = runtimes.interpreter,
    ) -> None:
        self.configuration = configuration
        self.on_package = on_package
        self.find_python = find_python
        self._s3: Any = None
        # (CodeUri, the Python that builds it) -> (zip, sha256)
        self._built: dict[tuple[Path, Optional[Path]], tuple[bytes, bytes]] = {}
        self._announced: set[tuple[bytes, str]] = set()  # (sha256, Runtime)
        self._uploaded: set[str] = set()

    def build(self, fn: FunctionPlan, announce: bool = True) -> tuple[bytes, bytes]:
        """The package of ``fn`` and its SHA-256 digest (``on_package`` hears of a new
        package and Runtime when ``announce``)."""
        python = self.find_python(fn.runtime)
        key = (fn.code, python.path if python is not None else None)
        if key not in self._built:
            zipped = _code(fn, python)
            self._built[key] = zipped, hashlib.sha256(zipped).digest()
        zipped, digest = self._built[key]
        if announce and self.on_package is not None and (digest, fn.runtime) not in self._announced:
            self._announced.add((digest, fn.runtime))
            self.on_package(zipped, base64.b64encode(digest).decode(), fn)
        return zipped, digest

    def location(self, fn: FunctionPlan) -> tuple[dict[str, str], str]:
        """Where the package of ``fn`` is in S3 (``Code`` arguments) and its CodeSha256."""
        zipped, digest = self.build(fn)
        key = f"{digest.hex()}.zip"
        if key not in self._uploaded:
            if self._s3 is None:
                self._s3 = self._bucket()
            self._s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=zipped)
            self._uploaded.add(key)
        return {"S3Bucket": CODE_BUCKET, "S3Key": key}, base64.b64encode(digest).decode()

    def _bucket(self) -> Any:
        s3 = client("s3", self.configuration)
        region = self.configuration["aws_region"]
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        try:
            s3.create_bucket(
                Bucket=CODE_BUCKET, **({"CreateBucketConfiguration": where} if where else {})
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        return s3


def _start_function(lambda_: Any, fn: FunctionPlan, role: str, store: _CodeStore) -> bool:
    """Create ``fn`` without waiting for it to be Active (True), or update it in place
    when it exists (False)."""
    code, code_sha256 = store.location(fn)
    settings: dict[str, Any] = {
        "FunctionName": fn.name,
        "Role": role,
        "Handler": fn.handler,
        "Runtime": fn.runtime,
        "Timeout": fn.timeout,
        "MemorySize": fn.memory_size,
        "Description": fn.description,
        "Environment": {"Variables": fn.environment},
    }
    try:
        lambda_.create_function(**settings, Code=code, Tags=fn.tags)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceConflictException":
            raise
    current = lambda_.get_function_configuration(FunctionName=fn.name)
    if current.get("CodeSha256") != code_sha256:
        lambda_.update_function_code(FunctionName=fn.name, **code)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=fn.name, WaiterConfig=_WAIT)
    lambda_.update_function_configuration(**settings)
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=fn.name, WaiterConfig=_WAIT)
    arn = lambda_.get_function_configuration(FunctionName=fn.name)["FunctionArn"]
    if fn.tags:
        lambda_.tag_resource(Resource=arn, Tags=fn.tags)
    logger.debug("chaosthundra sandbox: updated function %s", fn.name)
    return False


def _finish_function(lambda_: Any, fn: FunctionPlan, created: bool) -> None:
    """Once ``fn`` is Active: its reserved concurrency and its AutoPublishAlias."""
    if created:
        lambda_.get_waiter("function_active_v2").wait(FunctionName=fn.name, WaiterConfig=_WAIT)
        logger.debug("chaosthundra sandbox: created function %s", fn.name)
    if fn.reserved_concurrency is not None:
        lambda_.put_function_concurrency(
            FunctionName=fn.name, ReservedConcurrentExecutions=fn.reserved_concurrency
        )
    elif not created:  # a new function has no reserved concurrency to remove
        lambda_.delete_function_concurrency(FunctionName=fn.name)
    if fn.auto_publish_alias:
        _publish_alias(lambda_, fn.name, fn.auto_publish_alias, exists=not created)


def _publish_alias(lambda_: Any, name: str, alias: str, exists: bool) -> None:
    """SAM's AutoPublishAlias: publish a version of what was deployed, point the alias
    at it (``exists``: the function existed before, and so may its alias)."""
    version = lambda_.publish_version(FunctionName=name)["Version"]
    if exists:
        try:
            lambda_.update_alias(FunctionName=name, Name=alias, FunctionVersion=version)
        except lambda_.exceptions.ResourceNotFoundException:
            exists = False
    if not exists:
        lambda_.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    logger.debug("chaosthundra sandbox: alias %s of %s points at version %s", alias, name, version)


def _seed(plan: Plan, configuration: dict[str, Any], redis_url: str, out: Deployment) -> None:
    assert plan.seed is not None
    seed = load_seed(plan.seed)
    dynamodb = client("dynamodb", configuration)
    serializer = TypeSerializer()
    for table, items in seed["dynamodb"].items():
        for start in range(0, len(items), 25):
            batch = [
                {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
                for item in items[start : start + 25]
            ]
            try:
                dynamodb.batch_write_item(RequestItems={table: batch})
            except ClientError as exc:
                raise TemplateError(
                    f"seed file {plan.seed}: cannot write to table '{table}': "
                    f"{exc.response['Error'].get('Message') or exc}"
                ) from None
            except (TypeError, ValueError) as exc:
                raise TemplateError(f"seed file {plan.seed}: table '{table}': {exc}") from None
        out.seeded_items += len(items)
    if seed["redis"]:
        connection = redis.Redis.from_url(redis_url)
        try:
            connection.mset({str(k): str(v) for k, v in seed["redis"].items()})
        finally:
            connection.close()
        out.seeded_keys += len(seed["redis"])


def apply_plan(
    plan: Plan,
    configuration: dict[str, Any],
    redis_url: str,
    on_package: Optional[OnPackage] = None,
    defer: Collection[str] = (),
    token: Optional[str] = None,
    interpreter: FindPython = runtimes.interpreter,
) -> tuple[Deployment, Optional[Later]]:
    """Create what ``plan`` describes in the sandbox that ``configuration`` points at.

    ``on_package(zip, code_sha256, function)`` is called once for each package of a
    function deployed now, as soon as it is built and before anything is created.

    The functions named in ``defer`` are left out (their packages are still built,
    so that a package error is raised here). The second value deploys them when
    called, once, in any thread; None when nothing was deferred. See :data:`Later`.
    Every request of the deployment carries ``token`` (see :mod:`.gate`).
    ``interpreter(runtime)`` names the Python whose pip builds a function's package.
    """
    out = Deployment(template=plan.path)
    store = _CodeStore(configuration, on_package, interpreter)
    now = [fn for fn in plan.functions if fn.name not in defer]
    later = [fn for fn in plan.functions if fn.name in defer]
    for fn in now:
        store.build(fn)
    for fn in later:
        store.build(fn, announce=False)
    with _marked(token):
        role = _deploy(plan, configuration, store, out, now)
    if plan.seed is not None:
        _seed(plan, configuration, redis_url, out)
    logger.info(
        "chaosthundra sandbox: deployed %s (%d table(s), %d function(s), %d item(s), "
        "%d Redis key(s))%s",
        plan.path,
        len(out.tables),
        len(out.functions),
        out.seeded_items,
        out.seeded_keys,
        f"; {len(later)} more function(s) once a request needs them" if later else "",
    )
    if not later:
        return out, None

    def deploy_later(deployed: Callable[[str], None], go_on: Callable[[], bool]) -> None:
        with _marked(token):
            _deploy(
                replace(plan, tables=[]), configuration, store, out, later, role, deployed, go_on
            )
        logger.info("chaosthundra sandbox: deployed the other %d function(s)", len(later))

    return out, deploy_later


def _deploy(
    plan: Plan,
    configuration: dict[str, Any],
    store: _CodeStore,
    out: Deployment,
    functions: list[FunctionPlan],
    role: Optional[str] = None,
    deployed: Callable[[str], None] = lambda name: None,
    go_on: Callable[[], bool] = lambda: True,
) -> Optional[str]:
    """Create ``plan``'s tables and ``functions`` (while ``go_on()``); the role's ARN."""
    try:
        dynamodb = client("dynamodb", configuration)
        for table in plan.tables:
            _create_table(dynamodb, table)
            out.tables.append(table.name)
        if functions:
            role = role or _role_arn(configuration)
            lambda_ = client("lambda", configuration)
            # All created first, then each waited for: new functions are Pending side by
            # side (one update delay in all, not one each).
            started = []
            for fn in functions:
                if not go_on():
                    raise SandboxError(f"{plan.path}: deployment stopped before {fn.name}")
                started.append((fn, _start_function(lambda_, fn, role, store)))
            for fn, created in started:
                _finish_function(lambda_, fn, created)
                out.functions.append(fn.name)
                out.runtimes[fn.name] = fn.runtime
                deployed(fn.name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise TemplateError(
            f"{plan.path}: deployment failed: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    return role
