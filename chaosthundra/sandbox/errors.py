"""The sandbox's exceptions, in one place."""

from __future__ import annotations

__all__ = ["ApiError", "SandboxError", "TemplateError"]


class SandboxError(Exception):
    """The sandbox could not start, deploy or serve as asked."""


class TemplateError(SandboxError):
    """A template (or its seed data) asks for something the sandbox cannot do."""


class ApiError(Exception):
    """An error answered to an API caller: HTTP status, AWS error code, message."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
