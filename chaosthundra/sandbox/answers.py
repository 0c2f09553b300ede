"""The HTTP answers the sandbox writes itself, where moto does not answer.

:class:`InvokeResult` is an answer (status, headers, body); :func:`error_result`
answers an :class:`~.errors.ApiError` as AWS does, in the rest-json form botocore
reads. The Invoke API (:mod:`.invoke`), the endpoint's deploy gate (:mod:`.server`)
and the Lambda control plane (:mod:`.control_plane`) answer their errors with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError

__all__ = ["JSON", "InvokeResult", "error_result"]

JSON = "application/json"


@dataclass
class InvokeResult:
    """An HTTP answer: status, headers, body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def error_result(error: ApiError, request_id: str) -> InvokeResult:
    """The rest-json error answer botocore understands."""
    body: dict[str, Any] = {"Type": "User", "message": error.message}
    body.update(error.extra)
    return InvokeResult(
        error.status,
        {
            "Content-Type": JSON,
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": request_id,
        },
        json.dumps(body).encode(),
    )
