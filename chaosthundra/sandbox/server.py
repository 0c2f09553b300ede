"""The one loopback HTTP endpoint: Lambda Invoke routes to us, the rest to moto.

moto's own WSGI application (``DomainDispatcherApplication`` over
``create_backend_app``) serves every AWS API it emulates (Lambda control plane,
IAM, DynamoDB, CloudWatch Logs, STS...), picked from the request's signature. A thin
WSGI function in front of it takes the invoke routes; the Lambda control-plane
routes pass through :class:`~.control_plane.LambdaControlPlane` on their way to moto.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
import threading
from http import HTTPStatus
from typing import Any, Callable, Iterable, Optional

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

from .control_plane import LambdaControlPlane
from .errors import SandboxError
from .invoke import InvokeResult

__all__ = ["SandboxApp", "SandboxServer"]

logger = logging.getLogger("chaostoolkit")

INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
INVOKE_ASYNC = re.compile(r"^/2014-11-13/functions/(?P<name>[^/]+)/invoke-async/?$")

InvokeHandler = Callable[[dict[str, Any], str, bool], InvokeResult]


class SandboxApp:
    """WSGI application: the invoke routes go to ``invoke``, everything else to moto
    (Lambda's control plane through :class:`LambdaControlPlane`).

    ``update_delay_s()`` is how long a Lambda update stays InProgress.
    """

    def __init__(
        self, invoke: InvokeHandler, update_delay_s: Callable[[], float] = lambda: 0.0
    ) -> None:
        self.invoke = invoke
        self.moto = LambdaControlPlane(
            DomainDispatcherApplication(create_backend_app), update_delay_s
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            path = environ.get("PATH_INFO", "")
            match = INVOKE.match(path)
            legacy = False
            if match is None:
                match = INVOKE_ASYNC.match(path)
                legacy = match is not None
            if match is not None:
                result = self.invoke(environ, match.group("name"), legacy)
                headers = dict(result.headers)
                headers["Content-Length"] = str(len(result.body))
                reason = _reason(result.status)
                start_response(f"{result.status} {reason}", list(headers.items()))
                return [result.body]
        return self.moto(environ, start_response)


def _reason(status: int) -> str:
    """The standard reason phrase (413 "Request Entity Too Large", 429...)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _RequestHandler(MotoRequestHandler):
    """moto's request handler, logging to our logger at debug instead of stderr."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        logger.debug("chaosthundra sandbox: %s %s", self.requestline, code)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        logger.debug("chaosthundra sandbox: " + format, *args)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("chaosthundra sandbox: " + format, *args)


class _Server(ThreadedWSGIServer):
    """A threaded WSGI server that can close its open connections and join the
    threads serving them (keep-alive clients would otherwise hold them)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, sock: socket.socket, app: Any) -> None:
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._conns_lock = threading.Lock()
        host, port = sock.getsockname()[:2]
        super().__init__(host, port, app, handler=_RequestHandler, fd=sock.fileno())
        sock.close()

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="chaosthundra-http",
            daemon=True,
        )
        with self._conns_lock:
            self._conns[thread] = request
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float = 5.0) -> None:
        with self._conns_lock:
            conns = dict(self._conns)
        for request in conns.values():
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RDWR)
        for thread in conns:
            thread.join(timeout)


class SandboxServer:
    """Serves :class:`SandboxApp` on 127.0.0.1 from a background thread.

    ``start()`` returns once the socket listens; ``port`` is the bound port (useful
    with port 0); ``stop()`` stops accepting, closes connections and joins threads.
    """

    host = "127.0.0.1"

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.requested_port = port
        self.port: Optional[int] = None
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise SandboxError("the sandbox endpoint is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise SandboxError(
                    f"port {self.requested_port} on {self.host} is already in use; "
                    "choose another one, or 0 for any free port"
                ) from None
            raise SandboxError(
                f"cannot listen on {self.host}:{self.requested_port}: {exc}"
            ) from exc
        self._server = _Server(sock, self.app)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how soon stop_accepting returns
            name="chaosthundra-sandbox-http",
            daemon=True,
        )
        self._thread.start()

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def stop(self) -> None:
        self.stop_accepting()
        if self._server is not None:
            self._server.close_connections()
            self._server.server_close()
            self._server = None
