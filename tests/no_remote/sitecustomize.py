"""Refuse every socket to an address off this machine, and record the attempt.

Loaded as ``sitecustomize`` by a child process (``PYTHONPATH`` holds this folder)
when ``CHAOSTHUNDRA_TEST_NO_REMOTE`` names a file: each refused attempt appends one
line to it. The tests import :func:`install` to guard their own process the same way.
A name lookup (``getaddrinfo``) of a host that is not loopback counts as an attempt:
the DNS query would leave the machine too.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any, Callable

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: Any) -> bool:
    """True for a loopback address or name, and for no host at all (a local bind)."""
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(record: Callable[[str], None]) -> Callable[[], None]:
    """Guard ``socket`` in this process; returns the function that undoes it."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def refuse(what: str) -> OSError:
        record(what)
        return ConnectionRefusedError(f"test guard: no socket off this machine ({what})")

    def allowed(address: Any) -> bool:
        if isinstance(address, (str, bytes)):  # AF_UNIX path
            return True
        return is_loopback(address[0])

    def connect(self: socket.socket, address: Any) -> Any:
        if not allowed(address):
            raise refuse(f"connect {address!r}")
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not allowed(address):
            raise refuse(f"connect {address!r}")
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, str(refuse(f"getaddrinfo {host!r}")))
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo

    def uninstall() -> None:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo

    return uninstall


def _record_to(path: str) -> Callable[[str], None]:
    def record(what: str) -> None:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {what}\n")

    return record


if os.environ.get("CHAOSTHUNDRA_TEST_NO_REMOTE"):
    install(_record_to(os.environ["CHAOSTHUNDRA_TEST_NO_REMOTE"]))
