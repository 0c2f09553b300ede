"""The log of an invocation: the runtime's lines around the function's output.

The text is what ``LogType=Tail`` returns (its last 4 KB, base64) and what goes to
CloudWatch Logs (moto), one event per line, in the group ``/aws/lambda/NAME`` and
the stream of the environment that served the request.
"""

from __future__ import annotations

import base64
import math
import time
import uuid
from datetime import datetime, timezone
from typing import Optional

from . import moto_state

__all__ = ["InvocationLog", "new_stream_name", "timestamp", "tail"]

TAIL_BYTES = 4096


def timestamp() -> str:
    """Now, as Lambda prints it in messages (``2026-01-02T03:04:05.678Z``)."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def new_stream_name(version: str) -> str:
    """A log stream name shaped like Lambda's: ``2026/01/02/[$LATEST]<32 hex>``."""
    day = datetime.now(timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def tail(text: str) -> str:
    """Base64 of the last 4 KB of ``text`` (the ``X-Amz-Log-Result`` header)."""
    data = text.encode("utf-8", "replace")[-TAIL_BYTES:]
    return base64.b64encode(data).decode("ascii")


class InvocationLog:
    """Collects the lines of one invocation in order."""

    def __init__(self, request_id: str, version: str) -> None:
        self.request_id = request_id
        self.version = version
        self._parts: list[str] = []

    def init(self, output: bytes, python: tuple[int, int]) -> None:
        """The cold start's lines: ``INIT_START Runtime Version: python:3.12.sandbox``
        (the function's runtime; Lambda adds a build number and an ARN), its output."""
        runtime = f"python:{python[0]}.{python[1]}.sandbox"
        self._parts.append(f"INIT_START Runtime Version: {runtime}\n")
        self.output(output)

    def start(self) -> None:
        self._parts.append(f"START RequestId: {self.request_id} Version: {self.version}\n")

    def output(self, data: bytes) -> None:
        if data:
            text = data.decode("utf-8", "replace")
            self._parts.append(text if text.endswith("\n") else text + "\n")

    def line(self, text: str) -> None:
        self._parts.append(text + "\n")

    def end(
        self,
        duration_ms: float,
        memory_size: int,
        max_memory_mb: int,
        init_ms: Optional[float],
        status: Optional[str] = None,
    ) -> None:
        rid = self.request_id
        self._parts.append(f"END RequestId: {rid}\n")
        fields = [
            f"REPORT RequestId: {rid}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
            f"Memory Size: {memory_size} MB",
            f"Max Memory Used: {max_memory_mb} MB",
        ]
        if init_ms is not None:
            fields.append(f"Init Duration: {init_ms:.2f} ms")
        if status:
            fields.append(f"Status: {status}")
        self._parts.append("\t".join(fields) + "\t\n")

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def publish(self, account_id: str, region: str, function_name: str, stream: str) -> None:
        """Write the lines to CloudWatch Logs (moto), one event per line."""
        now = int(time.time() * 1000)
        lines = [(now, line) for line in self.text.splitlines() if line]
        moto_state.put_log_lines(account_id, region, f"/aws/lambda/{function_name}", stream, lines)
