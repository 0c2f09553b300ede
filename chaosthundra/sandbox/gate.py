"""Requests that wait for the part of a deployment left for later.

A sandbox started for one experiment deploys the functions that experiment names
first and returns; the template's other functions are deployed in the background once
a request needs them (see ``Sandbox(deploy_first=...)``), which most runs never do.
Nothing may tell that deployment apart from one that finished before the first
request, so the gate holds every request that could see a function not deployed yet,
and asks for the rest of the deployment:

- a request naming a function (``/<api version>/functions/<name>...``: invoke,
  configuration, versions, aliases...) waits until that function is deployed;
- any other request waits until the whole deployment is (ListFunctions, tags, S3,
  IAM...), except DynamoDB, STS and CloudWatch Logs, which see nothing a function
  deployment changes (tables and seed data are in place before the gate holds, and a
  function's log group appears at its first invoke, not at its deployment).

The deployment's own requests carry :data:`HEADER` with the gate's token and pass.
If the deployment fails, what waited for it is answered with that failure.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterable
from typing import Any, Optional
from urllib.parse import unquote

from .errors import ApiError

__all__ = ["HEADER", "DeployGate", "function_named"]

logger = logging.getLogger("chaostoolkit")

HEADER = "X-Chaosthundra-Deployment"
_ENVIRON_KEY = "HTTP_" + HEADER.upper().replace("-", "_")
_FUNCTION_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/functions/(?P<name>[^/]+)")
_SIGNING_SERVICE = re.compile(r"Credential=[^/]*/\d{8}/[^/]*/(?P<service>[^/]+)/aws4_request")
# Services whose answers no function deployment changes.
_UNAFFECTED = frozenset({"dynamodb", "logs", "sts"})


def function_named(path: str) -> Optional[str]:
    """The function a Lambda API path names (a name, ARN or partial ARN, qualified or
    not), as a bare name; None when it names none."""
    match = _FUNCTION_PATH.match(path)
    if match is None:
        return None
    name = unquote(match.group("name"))
    parts = name.split(":")
    if name.startswith("arn:") and len(parts) >= 7:
        return parts[6]
    if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
        return parts[2]
    return parts[0]


class DeployGate:
    """Holds requests while the functions in :meth:`hold` are being deployed."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._failed: set[str] = set()
        self._failure: Optional[str] = None
        self.wanted = threading.Event()  # set: deploy what is held, now

    def hold(self, names: Iterable[str]) -> None:
        """Hold requests that could see ``names`` until :meth:`deployed` or :meth:`finish`."""
        with self._cond:
            self._pending.update(names)

    def deployed(self, name: str) -> None:
        """``name`` is deployed: requests naming it pass."""
        with self._cond:
            self._pending.discard(name)
            self._cond.notify_all()

    def finish(self, failure: Optional[str] = None) -> None:
        """The deployment ended; ``failure`` says why it did not complete, if it did not:
        requests that could see a function it left out are answered with it."""
        with self._cond:
            if failure is not None:
                self._failed |= self._pending
                self._failure = failure
            self._pending.clear()
            self._cond.notify_all()

    @property
    def holding(self) -> bool:
        """Whether functions held back are not all deployed yet."""
        return bool(self._pending)

    def admit(self, environ: dict[str, Any]) -> Optional[ApiError]:
        """Wait until the request can see all it could see of a finished deployment;
        the error to answer it with when that deployment failed, else None."""
        if not self._pending and not self._failed:
            return None
        if environ.get(_ENVIRON_KEY) == self.token:
            return None
        signed = _SIGNING_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if signed is not None and signed.group("service") in _UNAFFECTED:
            return None
        name = function_named(environ.get("PATH_INFO", ""))
        if (name is None or name in self._pending) and not self.wanted.is_set():
            logger.debug(
                "chaosthundra sandbox: %s %s %s waits for the rest of the deployment",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                environ.get("HTTP_X_AMZ_TARGET", ""),
            )
            self.wanted.set()
        with self._cond:
            if name is None:
                self._cond.wait_for(lambda: not self._pending)
                blocked = bool(self._failed)
            else:
                self._cond.wait_for(lambda: name not in self._pending)
                blocked = name in self._failed
            if not blocked:
                return None
            return ApiError(
                500,
                "ServiceException",
                f"the sandbox could not deploy {', '.join(sorted(self._failed))}: {self._failure}",
            )
