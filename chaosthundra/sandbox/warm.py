"""Warm templates: execution environments forked from a process that has already
imported the runtime's boto3, the idea behind Lambda SnapStart.

One template per deployment package (task root) and Runtime: ``python3.X -S
worker.py --template`` on that runtime's interpreter, with the package first on its
path and the runtime's own folder after it, imports boto3 (so botocore and their
dependencies, resolved exactly as the function would resolve them) and nothing of the
function; the same package deployed as python3.11 and python3.12 gets two templates.
A cold start asks it to fork; the child takes the function's variables, its folder
and its pipes, and only then imports the handler (and so the agent), which read
their variables at import as in a fresh interpreter.

A package that brings its own boto3 or botocore, and a function whose variables are
read by the interpreter at start (``PYTHON*``, ``LC_*``), get a fresh interpreter.

A template can be started before its first cold start (``Templates.start``, when the
sandbox warms what it deployed): its imports then run on another core while the
deployment goes on, and a cold start waits only for what is left of them.

Differences from a fresh interpreter (in the table of docs/sandbox.md): the forked
environments share the template's string-hash seed, and the preloaded modules were
imported before the function's variables were set (boto3 and botocore read none at
import).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from .errors import ApiError
from .pythons import PythonRuntime

__all__ = ["ForkedProcess", "Template", "Templates", "START_VARIABLES"]

logger = logging.getLogger("chaostoolkit")

# The variables an interpreter reads when it starts: a template is started with these
# (the runtime's, the same for every function); the child gets all the others.
START_VARIABLES = (
    "PATH",
    "LANG",
    "TZ",
    "HOME",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
)
_OWN_PACKAGES = ("boto3", "botocore")
READY_TIMEOUT_S = 60.0


class ForkedProcess:
    """A child of a template, with the parts of ``subprocess.Popen`` an environment uses."""

    def __init__(self, pid: int, template: Template) -> None:
        self.pid = pid
        self.returncode: Optional[int] = None
        self._template = template
        self._ended = threading.Event()

    def poll(self) -> Optional[int]:
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"environment {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        """Kill it and its group, through the template: only its parent knows whether
        the pid is still its own (once reaped, the pid may be another process's)."""
        self._template.kill_child(self.pid)

    def ended(self, returncode: int) -> None:
        self.returncode = returncode
        self._ended.set()


class Template:
    """One running template for one task root and runtime."""

    def __init__(self, runtime: PythonRuntime, task_root: Path, variables: dict[str, str]) -> None:
        self.task_root = task_root
        self.runtime = runtime
        self._lock = threading.Lock()  # one fork request at a time
        self._children: dict[int, ForkedProcess] = {}
        self._answers: list[dict] = []
        self._answered = threading.Condition()
        self._early_exits: dict[int, int] = {}  # children that ended before their answer
        self._promised = 0  # forks that callers are about to ask for
        self._closed = False
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        env = {k: variables[k] for k in START_VARIABLES if k in variables}
        try:
            self._proc = subprocess.Popen(
                [
                    str(runtime.python),
                    "-S",
                    str(runtime.program),
                    "--template",
                    str(theirs.fileno()),
                    str(task_root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
                cwd=str(task_root),
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._reader = threading.Thread(
            target=self._read, name=f"chaosthundra-template-{task_root.name[:12]}", daemon=True
        )
        self._reader.start()
        self._ready_lock = threading.Lock()
        self._ready: Optional[bool] = None

    def wait_ready(self) -> None:
        """Return once the template has imported what it preloads; raises ApiError
        (and ends it) when it did not get there."""
        with self._ready_lock:
            if self._ready is None:
                answer = self._answer(READY_TIMEOUT_S)
                self._ready = answer is not None and "ready" in answer
                if not self._ready:
                    self.close()
        if not self._ready:
            raise ApiError(500, "ServiceException", "the warm template did not start")

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def forked_live(self) -> bool:
        """Whether an environment it forked still runs (it alone can tell when it ends),
        or one is about to be forked from it."""
        with self._answered:
            return bool(self._children) or self._promised > 0

    def promise(self) -> None:
        """Note that a fork will be asked for (:meth:`fork` or :meth:`unpromise` ends
        it): until then the template is in use, and never retired."""
        with self._answered:
            self._promised += 1

    def unpromise(self) -> None:
        with self._answered:
            self._promised = max(0, self._promised - 1)

    def fork(self, env: dict[str, str], cwd: Path, fds: tuple[int, int, int, int]) -> ForkedProcess:
        """A new child of the template running the worker with these variables, folder
        and (request, response, lifeline, log) descriptors (ends a :meth:`promise`)."""
        try:
            return self._fork(env, cwd, fds)
        finally:
            self.unpromise()

    def _fork(self, env: dict[str, str], cwd: Path, fds: tuple[int, ...]) -> ForkedProcess:
        with self._lock:
            message = json.dumps({"env": env, "cwd": str(cwd)}).encode()
            try:
                socket.send_fds(self._control, [message], list(fds))
            except OSError as exc:
                raise ApiError(
                    500, "ServiceException", f"the warm template is gone: {exc}"
                ) from exc
            answer = self._answer(READY_TIMEOUT_S)
            if answer is None or "pid" not in answer:
                raise ApiError(500, "ServiceException", "the warm template did not fork")
            child = ForkedProcess(answer["pid"], self)
            with self._answered:
                self._children[child.pid] = child
                early = self._early_exits.pop(child.pid, None)
            if early is not None:
                child.ended(early)
            return child

    def _answer(self, timeout: float) -> Optional[dict]:
        with self._answered:
            self._answered.wait_for(lambda: self._answers or self._closed, timeout)
            return self._answers.pop(0) if self._answers else None

    def _read(self) -> None:
        while True:
            try:
                raw = self._control.recv(65536)
            except OSError:
                raw = b""
            if not raw:
                break
            message = json.loads(raw)
            with self._answered:
                if "exit" in message:
                    child = self._children.pop(message["exit"], None)
                    if child is None:  # ended before its fork was answered
                        self._early_exits[message["exit"]] = message["status"]
                    else:
                        child.ended(message["status"])
                else:
                    self._answers.append(message)
                self._answered.notify_all()
        with self._answered:  # the template is gone: so are the children it forked
            self._closed = True
            orphans = list(self._children.values())
            self._children.clear()
            self._answered.notify_all()
        for child in orphans:  # by pid: the template that could vouch for them is gone
            try:
                os.killpg(child.pid, 9)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):  # not its own group yet
                    os.kill(child.pid, 9)
            child.ended(-9)

    def close(self) -> None:
        """End the template; the children it forked are killed with it."""
        self.begin_close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)
        self._control.close()

    def kill_child(self, pid: int) -> None:
        """Ask the template to kill its child ``pid`` unless it has reaped it already."""
        with contextlib.suppress(OSError):  # gone: it took its children with it
            self._control.send(json.dumps({"kill": pid}).encode())

    def begin_close(self) -> None:
        """Tell the template to end, without waiting for it."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)


class Templates:
    """The templates of a sandbox, one per task root and runtime. Beyond ``limit``, the
    least recently used ones whose environments have all ended are ended."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._templates: OrderedDict[tuple[Path, str], Template] = OrderedDict()

    def for_function(
        self, runtime: PythonRuntime, task_root: Path, variables: dict[str, str]
    ) -> Optional[Template]:
        """The ready template to fork this function's environment from, or None when it
        needs a fresh interpreter (see the module's docstring)."""
        template = self.start(runtime, task_root, variables, promise=True)
        if template is not None:
            try:
                template.wait_ready()
            except ApiError:
                template.unpromise()
                raise
        return template

    def start(
        self,
        runtime: PythonRuntime,
        task_root: Path,
        variables: dict[str, str],
        promise: bool = False,
    ) -> Optional[Template]:
        """The template of this function, started now unless it runs already (it may
        still be importing), or None when the function needs a fresh interpreter.
        ``promise``: the caller will fork from it (see :meth:`Template.promise`)."""
        if any((task_root / name).exists() for name in _OWN_PACKAGES):
            return None
        if any(k.startswith(("PYTHON", "LC_")) and k not in START_VARIABLES for k in variables):
            return None
        key = (task_root, runtime.name)
        with self._lock:
            template = self._templates.get(key)
            if template is not None and template.alive:
                self._templates.move_to_end(key)
                if promise:
                    template.promise()
                return template
            template = Template(runtime, task_root, variables)
            if promise:
                template.promise()
            self._templates[key] = template
            idle = [
                other
                for other, old in self._templates.items()
                if other != key and not old.forked_live
            ]
            retired = [
                self._templates.pop(root) for root in idle[: len(self._templates) - self.limit]
            ]
        for old in retired:
            old.close()
        return template

    def close(self) -> None:
        with self._lock:
            templates = list(self._templates.values())
            self._templates.clear()
        for template in templates:  # all end at once, then each is waited for
            template.begin_close()
        for template in templates:
            template.close()
