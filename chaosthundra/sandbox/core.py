"""The embedded sandbox: one local AWS endpoint, a Redis, and deployed functions."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from chaosthundra.runtimes import version_of

from . import moto_state
from .code import CodeCache
from .credentials import session as sandbox_session
from .deploy import Deployment, Later, apply_plan
from .deploy_plan import FunctionPlan, load_plan
from .environment import WORKER
from .errors import SandboxError
from .gate import DeployGate
from .invoke import Invoker
from .pool import EnvironmentPool
from .pythons import Pythons, unavailable_error
from .redis_server import RedisServer
from .server import SandboxApp, SandboxServer

__all__ = ["DEFAULT_TEMPLATE", "DEFAULT_UPDATE_DELAY_MS", "UPDATE_DELAY_ENV", "Sandbox"]

logger = logging.getLogger("chaostoolkit")

DEFAULT_TEMPLATE = Path("functions") / "template.yaml"
UPDATE_DELAY_ENV = "CHAOSTHUNDRA_SANDBOX_UPDATE_DELAY_MS"
DEFAULT_UPDATE_DELAY_MS = 0
PathLike = Union[str, "os.PathLike[str]"]


class Sandbox:
    """A local AWS for Lambda functions: moto plus our Invoke, and a real Redis.

    ``template`` is an AWS SAM template to deploy on start; ``None`` means
    ``functions/template.yaml`` in the current directory when it exists (nothing
    otherwise). ``port`` 0 picks a free port. Use as a context manager, or call
    :meth:`start` and :meth:`stop`.

    ``update_delay_ms`` is how long a Lambda update stays ``InProgress`` (and a new
    function ``Pending``); ``None`` reads CHAOSTHUNDRA_SANDBOX_UPDATE_DELAY_MS, else
    0 (the states still run: InProgress, then Successful on the next read). It can
    be changed while the sandbox runs; each write uses the value of its time.

    ``warm_templates``: start the warm template of each deployed package as it is
    deployed (in its own process, so on another core), rather than at the first cold
    start of a function; for runs that will invoke what they deploy.

    ``deploy_first``: names of the functions to deploy before :meth:`start` returns
    (with the tables, the role and the seed data, and any function whose name is the
    value of one of their variables); the template's other functions are deployed in
    the background as soon as a request could see them, and that request waits until
    they are (see :mod:`.gate`). None deploys everything before returning.

    moto's state is global to the process: sandboxes (and any other moto server) in
    one process share it, and the sandbox never resets it. Use unique names.

    ``pythons``: the interpreter of a ``python3.X`` Runtime, ``{"python3.12":
    "/path/to/python3.12"}``, before ``CHAOSTHUNDRA_PYTHONS``, ``PATH``, pyenv and uv
    are searched (:mod:`chaosthundra.runtimes`). Each function runs on its Runtime's
    interpreter; a function whose Runtime has none here (or is not Python) is deployed
    and listed but never run (see :meth:`not_runnable`).
    """

    def __init__(
        self,
        template: Optional[PathLike] = None,
        port: int = 0,
        region: str = "us-east-1",
        *,
        redis_server: Optional[str] = None,
        max_environments: int = 64,
        idle_timeout: float = 600.0,
        update_delay_ms: Optional[int] = None,
        warm_templates: bool = False,
        deploy_first: Optional[Collection[str]] = None,
        pythons: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.pythons = dict(pythons or {})
        self.warm_templates = warm_templates
        self.deploy_first = None if deploy_first is None else frozenset(deploy_first)
        self._update_delay_ms = resolve_update_delay_ms(update_delay_ms)
        self.template = Path(template) if template is not None else None
        self.port = port
        self.region = region
        self.redis_server = redis_server
        self.max_environments = max_environments
        self.idle_timeout = idle_timeout
        self.deployments: list[Deployment] = []
        self._workdir: Optional[Path] = None
        self._redis: Optional[RedisServer] = None
        self._server: Optional[SandboxServer] = None
        self._pool: Optional[EnvironmentPool] = None
        self._invoker: Optional[Invoker] = None
        self._pythons = Pythons(self.pythons, source=WORKER)
        self._gate = DeployGate()
        self._background: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._started = False
        self._unshare: Optional[Callable[[], None]] = None

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Start everything and deploy the template; returns once ready."""
        if self._started:
            raise SandboxError("the sandbox is already started")
        template = self._template_path()
        self._started = True
        _skip_collection_at_exit()
        try:
            self._unshare = moto_state.share_service_models(sandbox_session(self.region))
            self._workdir = Path(tempfile.mkdtemp(prefix="chaosthundra-sandbox-"))
            self._pythons = Pythons(self.pythons, self._workdir / "runtime", WORKER)
            self._check_pythons()  # before anything is started
            home = self._workdir / "home"
            home.mkdir()
            self._redis = RedisServer(self._workdir / "redis", self.redis_server)
            self._redis.start()
            self._pool = EnvironmentPool(self.max_environments, self.idle_timeout)
            self._invoker = Invoker(
                self._pool,
                CodeCache(),
                home,
                lambda: self.endpoint_url,
                self.region,
                pythons=self._pythons,
            )
            app = SandboxApp(
                self._invoker.handle, lambda: self.update_delay_ms / 1000.0, self._gate
            )
            self._server = SandboxServer(app, self.port)
            self._server.start()
            logger.info(
                "chaosthundra sandbox: AWS endpoint %s, Redis %s, update delay %d ms",
                self.endpoint_url,
                self.redis_url,
                self.update_delay_ms,
            )
            if template is not None:
                self.deploy(template, first=self.deploy_first)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, kill every worker and Redis, join threads, remove files."""
        if not self._started:
            return
        self._stopping.set()
        self._gate.wanted.set()
        for thread in self._background:
            thread.join()
        self._background.clear()
        self._gate.finish("the sandbox stopped")
        if self._server is not None:
            self._server.stop_accepting()
        if self._pool is not None:
            self._pool.close()
        if self._invoker is not None:
            self._invoker.close()
        if self._server is not None:
            self._server.stop()
        if self._redis is not None:
            self._redis.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        if self._unshare is not None:
            self._unshare()
        self._server = self._pool = self._invoker = self._redis = None
        self._unshare = None
        self._workdir = None
        self._gate = DeployGate()
        self._stopping.clear()
        self._started = False
        logger.info("chaosthundra sandbox: stopped")

    # --- what others need -----------------------------------------------------------

    @property
    def update_delay_ms(self) -> int:
        """Milliseconds a Lambda update stays InProgress (a new function Pending)."""
        return self._update_delay_ms

    @update_delay_ms.setter
    def update_delay_ms(self, value: int) -> None:
        self._update_delay_ms = resolve_update_delay_ms(value)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``: the AWS endpoint for boto3 and the AWS CLI."""
        if self._server is None:
            raise SandboxError("the sandbox is not started")
        return self._server.url

    @property
    def redis_url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        if self._redis is None:
            raise SandboxError("the sandbox is not started")
        return self._redis.url

    def configuration(self) -> dict[str, Any]:
        """The experiment configuration that points ``chaosthundra.aws.client`` here."""
        return {
            "aws_endpoint_url": self.endpoint_url,
            "aws_region": self.region,
            "chaosthundra_sandbox": True,
        }

    def deploy(
        self,
        template: PathLike,
        parameters: Optional[dict[str, Any]] = None,
        first: Optional[Collection[str]] = None,
    ) -> Deployment:
        """Deploy an AWS SAM template (tables, functions, seed data) into the sandbox.

        The template parameters ``RedisUrl`` and ``SandboxEndpoint`` get the sandbox's
        values unless ``parameters`` gives them. ``first``: see ``deploy_first``.
        """
        provided = {"RedisUrl": self.redis_url, "SandboxEndpoint": self.endpoint_url}
        provided.update(parameters or {})
        plan = load_plan(Path(template), provided, region=self.region)
        warm = None
        if self.warm_templates and self._invoker is not None:
            invoker = self._invoker

            def warm(zipped: bytes, code_sha256: str, fn: FunctionPlan) -> None:
                invoker.warm(zipped, code_sha256, fn.runtime, fn.environment)

        later = () if first is None else _deferrable(plan.functions, first)
        self._gate.hold(later)
        try:
            deployment, rest = apply_plan(
                plan,
                self.configuration(),
                self.redis_url,
                on_package=warm,
                defer=later,
                token=self._gate.token,
                interpreter=self._pythons.interpreter,
            )
        except BaseException:
            self._gate.finish("the deployment failed")
            raise
        self.deployments.append(deployment)
        for name, reason in self.not_runnable().items():
            if name in deployment.functions:
                logger.info("chaosthundra sandbox: %s is deployed, never run: %s", name, reason)
        if rest is not None:
            thread = threading.Thread(
                target=self._deploy_rest,
                args=(rest,),
                name="chaosthundra-sandbox-deploy",
                daemon=True,
            )
            self._background.append(thread)
            thread.start()
        return deployment

    def _deploy_rest(self, rest: Later) -> None:
        gate = self._gate
        gate.wanted.wait()
        try:
            rest(gate.deployed, lambda: not self._stopping.is_set())
        except Exception as exc:
            if not self._stopping.is_set():
                logger.error("chaosthundra sandbox: %s", exc)
            gate.finish(str(exc))
        else:
            gate.finish()

    @property
    def deploying(self) -> bool:
        """Whether functions left for later (``deploy_first``) are not all deployed yet."""
        return self._gate.holding

    def wait_deployed(self) -> None:
        """Return once every function of the deployments is deployed (see
        ``deploy_first``); SandboxError when one could not be."""
        self._gate.wanted.set()
        for thread in list(self._background):
            thread.join()
        refused = self._gate.admit({})
        if refused is not None:
            raise SandboxError(refused.message)

    def not_runnable(self) -> dict[str, str]:
        """The deployed functions this sandbox cannot run (a non-Python Runtime, or one
        with no interpreter here): name -> what to do about it."""
        found: dict[str, str] = {}
        for deployment in self.deployments:
            for name, runtime in deployment.runtimes.items():
                if not self._pythons.runs(runtime):
                    found[name] = unavailable_error(runtime).message
        return found

    def worker_pids(self) -> list[int]:
        """Process ids of the live execution environments."""
        if self._pool is None:
            return []
        return [pid for env in self._pool.environments() if (pid := env.pid) is not None]

    @property
    def redis_pid(self) -> Optional[int]:
        return self._redis.pid if self._redis is not None else None

    def _check_pythons(self) -> None:
        """An interpreter named explicitly must be the Python its Runtime says."""
        for runtime, path in self.pythons.items():
            if version_of(runtime) is None:
                raise SandboxError(f"pythons: {runtime!r} is not a python3.X Runtime")
            if not self._pythons.runs(runtime):
                major, minor = version_of(runtime)  # type: ignore[misc]
                raise SandboxError(
                    f"pythons: {runtime}={path} is not a Python {major}.{minor} interpreter "
                    "that runs here; name the right one or leave the Runtime out"
                )

    def _template_path(self) -> Optional[Path]:
        if self.template is None:
            default = Path.cwd() / DEFAULT_TEMPLATE
            if default.is_file():
                return default
            logger.info("chaosthundra sandbox: no %s here, nothing to deploy", DEFAULT_TEMPLATE)
            return None
        if not self.template.is_file():
            raise SandboxError(f"template {self.template} does not exist")
        return self.template


_exit_hook_registered = False


def _skip_collection_at_exit() -> None:
    """At interpreter exit, keep the cyclic GC off what exists then (once per process).

    Python's shutdown runs full collections over every object left; botocore's
    service models and moto's state make that 0.5 s or more, paid at the end of
    every ``chaos run``. Nothing needs those collections: the process is ending,
    and the sandbox has stopped its processes and removed its files already.
    """
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(gc.freeze)
        _exit_hook_registered = True


def resolve_update_delay_ms(given: Optional[int]) -> int:
    """``given``, else CHAOSTHUNDRA_SANDBOX_UPDATE_DELAY_MS, else the default (0)."""
    source = "update_delay_ms"
    value: Any = given
    if value is None:
        value = os.environ.get(UPDATE_DELAY_ENV, "").strip() or DEFAULT_UPDATE_DELAY_MS
        source = UPDATE_DELAY_ENV
    try:
        delay = int(value)
    except (TypeError, ValueError):
        delay = -1
    if delay < 0 or isinstance(value, bool):
        raise SandboxError(
            f"{source} must be a whole number of milliseconds, 0 or more; got {value!r}"
        )
    return delay


def _deferrable(functions: list[FunctionPlan], first: Collection[str]) -> list[str]:
    """The functions that can wait: all but ``first`` and the functions whose name is
    the value of a variable of one in ``first`` (a function it calls, most likely)."""
    wanted = set(first)
    names = {fn.name for fn in functions}
    for fn in functions:
        if fn.name in first:
            wanted.update(value for value in fn.environment.values() if value in names)
    return [fn.name for fn in functions if fn.name not in wanted]
