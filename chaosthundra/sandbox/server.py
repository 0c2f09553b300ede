"""The one loopback HTTP endpoint: Lambda Invoke routes to us, the rest to moto.

moto's own WSGI application (``DomainDispatcherApplication`` over
``create_backend_app``, had through :mod:`.moto_state`) serves every AWS API it
emulates (Lambda control plane, IAM, DynamoDB, CloudWatch Logs, STS...), picked from
the request's signature. A thin
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
import uuid
from typing import Any, Callable, Iterable, Optional
from urllib.parse import urlsplit

from werkzeug.serving import ThreadedWSGIServer

from .answers import InvokeResult, error_result
from .control_plane import LambdaControlPlane
from .errors import SandboxError
from .gate import DeployGate
from .moto_state import MotoRequestHandler, wsgi_app

__all__ = ["SandboxApp", "SandboxServer"]

logger = logging.getLogger("chaostoolkit")

INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
INVOKE_ASYNC = re.compile(r"^/2014-11-13/functions/(?P<name>[^/]+)/invoke-async/?$")

InvokeHandler = Callable[[dict[str, Any], str, bool], InvokeResult]


class SandboxApp:
    """WSGI application: the invoke routes go to ``invoke``, everything else to moto
    (Lambda's control plane through :class:`LambdaControlPlane`).

    ``update_delay_s()`` is how long a Lambda update stays InProgress. ``gate`` holds
    the requests that could see a deployment still going on (see :mod:`.gate`).
    """

    def __init__(
        self,
        invoke: InvokeHandler,
        update_delay_s: Callable[[], float] = lambda: 0.0,
        gate: Optional[DeployGate] = None,
    ) -> None:
        self._invoke = invoke
        self.gate = gate or DeployGate()
        self.moto = LambdaControlPlane(wsgi_app(), update_delay_s)

    def invoke(self, environ: dict[str, Any], name: str, legacy: bool) -> InvokeResult:
        """Answer an invoke request (once the function it names is deployed)."""
        refused = self.gate.admit(environ)
        if refused is not None:
            return error_result(refused, str(uuid.uuid4()))
        return self._invoke(environ, name, legacy)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        route = invoke_route(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if route is not None:
            result = self.invoke(environ, *route)
        else:
            refused = self.gate.admit(environ)
            if refused is None:
                return self.moto(environ, start_response)
            result = error_result(refused, str(uuid.uuid4()))
        start_response(f"{result.status} {_reason(result.status)}", list(_headers(result).items()))
        return [result.body]


def invoke_route(method: str, path: str) -> Optional[tuple[str, bool]]:
    """``(function name, legacy InvokeAsync)`` for an invoke request, else None."""
    if method != "POST":
        return None
    match = INVOKE.match(path)
    if match is not None:
        return match.group("name"), False
    match = INVOKE_ASYNC.match(path)
    return (match.group("name"), True) if match is not None else None


def _headers(result: InvokeResult) -> dict[str, str]:
    headers = dict(result.headers)
    headers["Content-Length"] = str(len(result.body))
    return headers


# The reason phrases Lambda's endpoint sends (RFC 7231's): fixed here, not taken from
# http.HTTPStatus, whose phrases follow the host's Python (3.13 calls 413 "Content
# Too Large").
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _reason(status: int) -> str:
    """Lambda's reason phrase for ``status`` (:data:`REASONS`; "Error" for another)."""
    return REASONS.get(status, "Error")


class _RequestHandler(MotoRequestHandler):
    """moto's request handler, logging to our logger at debug instead of stderr.

    An invoke with a Content-Length is answered here, in one write, and its connection
    kept open for the next request (HTTP/1.1 keep-alive, as Lambda's endpoint does);
    werkzeug, which serves every other request, closes each connection after one answer,
    so a client would pay a new connection (and the server a new thread) per invoke.
    An error answer closes the connection: its request body may not have been read.
    """

    def run_wsgi(self) -> None:
        app = self.server.app  # type: ignore[attr-defined]
        route = invoke_route(self.command, urlsplit(self.path).path)
        if (
            route is None
            or not isinstance(app, SandboxApp)
            or "Content-Length" not in self.headers
            or "Transfer-Encoding" in self.headers
        ):
            super().run_wsgi()
            return
        result = app.invoke(self.make_environ(), *route)
        headers = _headers(result)
        if result.status >= 400 or self.protocol_version < "HTTP/1.1":
            self.close_connection = True
        if self.close_connection:
            headers["Connection"] = "close"
        lines = [
            f"{self.protocol_version} {result.status} {_reason(result.status)}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            *(f"{key}: {value}" for key, value in headers.items()),
        ]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + result.body)
        self.log_request(result.status)

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
