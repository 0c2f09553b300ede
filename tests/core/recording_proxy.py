"""A loopback HTTP proxy in front of an AWS endpoint, for the tests that count requests.

It forwards every request to the endpoint and records its method, path and the
access key it was signed with. With ``invoke_status`` set, it forwards an Invoke
(so the function really runs) and then answers that status instead of the
endpoint's answer: a 5xx the sandbox itself cannot produce after running code.

``proxy``, a fixture: one in front of the session's sandbox for a test. Bind it in a
test module::

    from tests.core import recording_proxy

    proxy = recording_proxy.proxy
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import urlsplit

import pytest

__all__ = ["RecordingProxy", "Seen", "proxy"]

_ACCESS_KEY = re.compile(r"Credential=([^/]+)/")
_INVOKE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class _Server(ThreadingHTTPServer):
    # The tests open up to 64 connections at once; socketserver's backlog of 5 would
    # drop some of them on the floor (the client then sees a closed connection).
    request_queue_size = 128


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    access_key: Optional[str]

    @property
    def is_invoke(self) -> bool:
        return _INVOKE.match(self.path) is not None


class RecordingProxy:
    """Start with ``start()`` (returns once listening), stop with ``stop()``."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.invoke_status: Optional[int] = None
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def invokes(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.is_invoke]

    def access_keys(self) -> list[Optional[str]]:
        with self._lock:
            return [s.access_key for s in self.seen]

    def start(self) -> RecordingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                match = _ACCESS_KEY.search(self.headers.get("Authorization", ""))
                seen = Seen(self.command, self.path, match.group(1) if match else None)
                with proxy._lock:
                    proxy.seen.append(seen)
                status, headers, answer = proxy._forward(
                    self.command, self.path, self.headers, body
                )
                if seen.is_invoke and proxy.invoke_status is not None:
                    status, headers = proxy.invoke_status, [("Content-Type", "text/html")]
                    answer = b"<html><body>Bad Gateway</body></html>"
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _forward(self, method: str, path: str, headers, body: bytes):
        connection = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            forwarded["Content-Length"] = str(len(body))
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


@pytest.fixture
def proxy(sandbox) -> Iterator[RecordingProxy]:
    """A proxy in front of the session's sandbox, stopped at the end of the test."""
    proxy = RecordingProxy(sandbox.endpoint_url).start()
    yield proxy
    proxy.stop()
