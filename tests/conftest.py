"""Fixtures shared by every test directory.

``sandbox``: one embedded sandbox for the whole session (real moto endpoint, real
redis-server, real worker processes), with functions/template.yaml deployed when it
exists. Deploy more with ``sandbox.deploy(path)``; use unique resource names.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported in the fixture: moto is slow to import
    from chaosthundra.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = REPO / "functions" / "template.yaml"


def pytest_configure(config: pytest.Config) -> None:
    """A shell that starts the tests in the background (``make test &``) has them ignore
    SIGINT, and every ``chaos run`` they start inherits that: the tests that interrupt a
    run as a user's Ctrl-C does need SIGINT handled again, here and in those children."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The session's sandbox, started once and stopped at the end."""
    from chaosthundra.sandbox import Sandbox

    template = DEFAULT_TEMPLATE if DEFAULT_TEMPLATE.is_file() else None
    with Sandbox(template=template) as box:
        yield box


@pytest.fixture(scope="session")
def sandbox_configuration(sandbox: Sandbox) -> dict[str, Any]:
    """An experiment configuration pointing at the session's sandbox."""
    return sandbox.configuration()


SLOW_UPDATE_MS = 1000


@pytest.fixture
def slow_updates(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox, with Lambda updates InProgress (and new functions Pending)
    for 1 s during this test; the delay is restored afterwards."""
    before = sandbox.update_delay_ms
    sandbox.update_delay_ms = SLOW_UPDATE_MS
    try:
        yield sandbox
    finally:
        sandbox.update_delay_ms = before
