"""A WSGI middleware's dealings with the application behind it (moto), whatever the
middleware decides: the request body read and put back (or replaced), the
application's answer captured whole as an :class:`Answer`, rewritten as JSON, and
sent on; an :class:`~.errors.ApiError` as such an answer. :mod:`.control_plane`
uses it in front of moto's Lambda.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .answers import error_result
from .errors import ApiError

__all__ = [
    "Answer",
    "answer_json",
    "error_answer",
    "forward",
    "read_body",
    "replace_body",
    "respond",
]

_REASONS = {200: "OK", 201: "Created", 204: "No Content"}


@dataclass
class Answer:
    """An HTTP answer as a WSGI application gave it: status, headers, body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def forward(app: Callable, environ: dict[str, Any]) -> Answer:
    """Call the WSGI application ``app`` with ``environ``; its whole answer."""
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
        captured["status"], captured["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = int(str(captured["status"]).split()[0])
    return Answer(status, list(captured["headers"]), b"".join(chunks))


def respond(start_response: Callable, answer: Answer) -> list[bytes]:
    """Send ``answer`` as this WSGI application's, with its Content-Length."""
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(answer.body))))
    start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}", headers)
    return [answer.body]


def answer_json(answer: Answer, data: Any, status: Optional[int] = None) -> Answer:
    """``answer`` with ``data`` as its JSON body (and ``status``, when given)."""
    answer.body = json.dumps(data).encode()
    answer.status = status or answer.status
    answer.headers = [(k, v) for k, v in answer.headers if k.lower() != "content-type"]
    answer.headers.append(("Content-Type", "application/json"))
    return answer


def error_answer(error: ApiError) -> Answer:
    """``error`` answered as AWS does (:func:`~.answers.error_result`)."""
    result = error_result(error, str(uuid.uuid4()))
    return Answer(result.status, list(result.headers.items()), result.body)


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return raw


def replace_body(environ: dict[str, Any], body: dict[str, Any]) -> None:
    """Give moto ``body`` (as JSON) in place of the request's own."""
    raw = json.dumps(body).encode()
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
