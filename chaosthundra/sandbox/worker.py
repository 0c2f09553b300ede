"""The process inside one execution environment: a minimal Python Lambda runtime.

Run as a script (``python worker.py REQ_FD RESP_FD LIFE_FD``), never imported by the
function: it imports only the standard library it needs so that a cold start costs
little more than the interpreter start plus the handler's own imports.

Protocol with the parent (:mod:`chaosthundra.sandbox.environment`), over pipes:

- a frame is ``len(header) header len(body) body``, lengths as 4-byte big-endian
  integers, the header a JSON object and the body raw bytes;
- after the handler module is imported the worker sends ``{"type": "ready"}`` or
  ``{"type": "init_error"}`` (body: the Lambda error payload), then serves one
  ``{"type": "invoke"}`` request at a time and answers ``{"type": "result"}``;
- stdout and stderr are the environment's log pipe. Before every answer the worker
  writes :data:`END_OF_OUTPUT` there, so the parent knows which output belongs to
  which phase;
- when the parent goes away (the lifeline pipe reaches EOF) the worker exits, even in
  the middle of a handler.

It runs on the interpreter of the function's Runtime (python3.9 to 3.13: only what
they all have is used here), compiled by that interpreter.

One file past 400 lines on purpose: it runs as a script, apart from the package, on an
interpreter that has no chaosthundra installed; a second module would have to be put
on that interpreter's path in every execution environment.

Differences from the real Python runtime: no Runtime API over HTTP and no memory
limit. The root logger gets the runtime's handler (``[LEVEL]\ttime\trequest id\t
message``) when the function imports ``logging``, not before.
"""

from __future__ import annotations

import json
import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: it would slow cold starts
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable

END_OF_OUTPUT = b"\x00\x1fchaosthundra-end-of-output\x1f\x00"

_request_id = ""


# --- framing (shared with the parent process) ---------------------------------------


def write_frame(fd: int, header: dict, body: bytes = b"") -> None:
    """Write one frame to ``fd``, looping over partial writes."""
    raw = json.dumps(header).encode()
    data = b"".join((len(raw).to_bytes(4, "big"), raw, len(body).to_bytes(4, "big"), body))
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[dict, bytes] | None:
    """Read one frame from ``fd``; ``None`` at end of file."""
    size = _read_exact(fd, 4)
    if size is None:
        return None
    raw = _read_exact(fd, int.from_bytes(size, "big"))
    size = _read_exact(fd, 4) if raw is not None else None
    if raw is None or size is None:
        return None
    body = _read_exact(fd, int.from_bytes(size, "big"))
    if body is None:
        return None
    return json.loads(raw), body


# --- the context object -------------------------------------------------------------


class _Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class _ClientContext:
    def __init__(self, data: dict) -> None:
        self.client = data.get("client")
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The ``context`` argument, with the attributes of the real Python runtime."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_arn: str, client: dict | None):
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = _Identity()
        self.client_context = _ClientContext(client) if client is not None else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, message: str) -> None:
        sys.stdout.write(message)


# --- errors -------------------------------------------------------------------------


def _error(kind: str, message: str, trace: list | None = None) -> dict:
    return {
        "errorMessage": message,
        "errorType": kind,
        "requestId": _request_id,
        "stackTrace": trace or [],
    }


def _runtime_frame(filename: str) -> bool:
    """A frame of this runtime or of the import machinery, not of the function."""
    # co_filename, not __file__: run from its .pyc, __file__ names the .pyc.
    return (
        filename == _runtime_frame.__code__.co_filename
        or filename.startswith("<frozen importlib")
        or filename.endswith(os.path.join("importlib", "__init__.py"))
    )


def _user_error(exc: BaseException) -> dict:
    """The error payload of an exception from the function, with only its frames."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _runtime_frame(f.filename)]
    return _error(type(exc).__name__, str(exc), traceback.format_list(frames))


def _log_error(error: dict) -> None:
    """Log an error the way the Python runtime does: one ``[ERROR]`` record."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in error["stackTrace"])
    sys.stderr.write("\n".join(lines) + "\n")


# --- handler loading ----------------------------------------------------------------


def _load_handler(spec: str) -> tuple[Callable[..., Any] | None, dict | None]:
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError:
        return None, _error(
            "Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack"
        )
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        return None, _error(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname.split('.')[0]} as a handler module",
        )
    import importlib

    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        return None, _error(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}"
        )
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}\n']
        return None, _error(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}", trace
        )
    except Exception as exc:
        return None, _user_error(exc)
    handler = getattr(module, fname, None)
    if handler is None:
        return None, _error(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        )
    return handler, None


def _setup_logging(logging: ModuleType) -> None:
    """Give the root logger the runtime's handler (format, request id, stdout)."""

    class _RequestId(logging.Filter):
        def filter(self, record: Any) -> bool:
            record.aws_request_id = _request_id
            return True

    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestId())
    logging.getLogger().addHandler(handler)


class _LoggingLoader:
    """Wraps the loader of ``logging`` to set the handler up right after its import."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._real.exec_module(module)
        _setup_logging(module)


class _LoggingHook:
    """A one-shot import hook for ``logging``.

    The real runtime configures logging before importing the handler. Importing
    ``logging`` up front would cost every cold start a few milliseconds, so the
    handler is installed when (and if) the function imports ``logging``.
    """

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != "logging":
            return None
        sys.meta_path.remove(_LoggingHook)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _LoggingLoader(spec.loader)
        return spec


def _install_logging() -> None:
    if "logging" in sys.modules:
        _setup_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingHook)


# --- the loop -----------------------------------------------------------------------


def _end_of_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - no contextlib import in the worker
            stream.flush()
        except (OSError, ValueError):
            pass
    os.write(1, END_OF_OUTPUT)


def _json_default(value: object) -> object:
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _max_rss_kb() -> int:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the
    parent's peak, which Linux carries across exec)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _watch_lifeline(fd: int) -> None:
    while os.read(fd, 1):
        pass
    os._exit(0)


def _invoke(handler: Callable[..., Any], header: dict, body: bytes) -> tuple[dict, bytes]:
    global _request_id
    _request_id = header["request_id"]
    context = LambdaContext(
        _request_id, header["deadline_ms"], header["invoked_arn"], header.get("client_context")
    )
    started = time.perf_counter()
    try:
        event = json.loads(body) if body else {}
        result = handler(event, context)
    except Exception as exc:
        status, payload = "error", _user_error(exc)
        _log_error(payload)
    else:
        try:
            return_body = json.dumps(result, default=_json_default).encode()
        except (TypeError, ValueError) as exc:
            status, payload = (
                "error",
                _error("Runtime.MarshalError", f"Unable to marshal response: {exc}"),
            )
            _log_error(payload)
        else:
            status, payload = "ok", None
    duration_ms = (time.perf_counter() - started) * 1000
    if payload is not None:
        return_body = json.dumps(payload).encode()
    meta = {"type": "result", "status": status, "duration_ms": duration_ms}
    meta["max_rss_kb"] = _max_rss_kb()
    return meta, return_body


def _task_root_first(task_root: str) -> None:
    """Put the function's package first on the path, in place of this runtime's folder:
    never let a function import the sandbox's modules."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") in (here, task_root):
        sys.path[0] = task_root
    else:
        sys.path.insert(0, task_root)


def main(argv: list[str]) -> int:
    req_fd, resp_fd, life_fd = (int(arg) for arg in argv[1:4])
    # Our own session: the terminal's Ctrl-C is for the sandbox, and the parent can
    # kill the whole group. (Done here rather than by Popen, which then cannot vfork.)
    try:  # noqa: SIM105 - no contextlib import in the worker
        os.setsid()
    except OSError:
        pass
    import _thread

    _thread.start_new_thread(_watch_lifeline, (life_fd,))

    _task_root_first(os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    _install_logging()
    started = time.perf_counter()
    handler, error = _load_handler(os.environ.get("_HANDLER", ""))
    init_ms = (time.perf_counter() - started) * 1000
    if error is not None:
        _log_error(error)
        _end_of_output()
        write_frame(resp_fd, {"type": "init_error", "init_ms": init_ms}, json.dumps(error).encode())
        return 1
    _end_of_output()
    write_frame(resp_fd, {"type": "ready", "init_ms": init_ms})

    while True:
        frame = read_frame(req_fd)
        if frame is None:
            return 0
        meta, body = _invoke(handler, *frame)
        _end_of_output()
        write_frame(resp_fd, meta, body)


# --- the warm template (``python worker.py --template CONTROL_FD TASK_ROOT``) -------


# What the template imports before any function's variables are set: the runtime's
# boto3 (and so botocore and their dependencies), as the function's package would
# resolve them. Never the handler, never the agent: they read the variables at import.
PRELOAD = ("boto3",)


def serve_template(control_fd: int, task_root: str) -> int:
    """Import :data:`PRELOAD`, then fork one execution environment per request.

    A request on the control socket (a SOCK_SEQPACKET) is a JSON object
    ``{"env": {...}, "cwd": ...}`` with four descriptors: the worker's request,
    response and lifeline pipes and its log pipe. The child takes the variables, the
    folder and the descriptors and runs :func:`main`, which imports the handler. The
    template answers ``{"pid": n}``, and ``{"exit": n, "status": code}`` when a child
    ends (it is their parent). It ends when the control socket is closed.
    """
    import importlib
    import select
    import signal
    import socket

    _task_root_first(task_root)
    for name in PRELOAD:
        try:  # noqa: SIM105 - no contextlib import in the worker
            importlib.import_module(name)
        except ImportError:
            pass
    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.send(json.dumps({"ready": sorted(_loaded_outside_stdlib())}).encode())
    live: set = set()  # forked and not reaped yet: their pids cannot be reused meanwhile
    # poll, not select: the control socket keeps the descriptor number it had in the
    # sandbox, which may be past select's limit of 1024.
    poller = select.poll()
    poller.register(control, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll()}
        if wake_r in ready:
            os.read(wake_r, 4096)
            _report_exits(control, live)
        if control.fileno() in ready:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
            if not message:  # the sandbox is stopping: end now, nothing to clean up
                os._exit(0)
            request = json.loads(message)
            if "kill" in request:
                _kill_child(request["kill"], live)
                continue
            pid = os.fork()
            if pid == 0:  # never returns into the template's loop
                code = 1
                try:
                    for fd in (control.fileno(), wake_r, wake_w):
                        os.close(fd)
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    code = _forked(request, fds)
                except SystemExit as exit:
                    code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
                except BaseException:  # a runtime failure: said in the log, exit status 1
                    import traceback

                    traceback.print_exc()
                finally:
                    for stream in (sys.stdout, sys.stderr):
                        try:  # noqa: SIM105 - no contextlib import in the worker
                            stream.flush()
                        except (OSError, ValueError):
                            pass
                    os._exit(code)
            for fd in fds:
                os.close(fd)
            live.add(pid)
            control.send(json.dumps({"pid": pid}).encode())


def _kill_child(pid: int, live: set) -> None:
    """Kill a child and its session's group, unless it was reaped already: then its pid
    may belong to another process by now (pids wrap around), which must live."""
    if pid not in live:
        return
    try:
        os.killpg(pid, 9)  # its own group once it ran setsid()
    except OSError:
        try:  # noqa: SIM105 - no contextlib import in the worker
            os.kill(pid, 9)
        except OSError:
            pass


def _report_exits(control: Any, live: set) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        live.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        control.send(json.dumps({"exit": pid, "status": code}).encode())


def _forked(request: dict, fds: list[int]) -> int:
    """In a child of the template: become the function's execution environment."""
    req_fd, resp_fd, life_fd, log_fd = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    return main(["worker", str(req_fd), str(resp_fd), str(life_fd)])


def _loaded_outside_stdlib() -> set[str]:
    """The top-level names of the modules imported from outside the standard library."""
    tops = {name.split(".")[0] for name in list(sys.modules)}
    stdlib = getattr(sys, "stdlib_module_names", None)
    if stdlib is None:  # python3.9: the standard library is what lies in os's folder
        where = os.path.dirname(os.__file__) + os.sep
        stdlib = set()
        for name in tops:
            path = getattr(sys.modules.get(name), "__file__", None) or where
            if path.startswith(where) and "site-packages" not in path:
                stdlib.add(name)
    return tops - set(stdlib) - {"__main__"}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--template"]:
        sys.exit(serve_template(int(sys.argv[2]), sys.argv[3]))
    sys.exit(main(sys.argv))
