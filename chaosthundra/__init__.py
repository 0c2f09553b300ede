"""Chaos Toolkit extension: inject errors and latency into AWS Lambda functions
through Thundra span listeners, and judge what happens."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "discover"]


def discover(discover_system: bool = True) -> Any:
    """Discover chaosthundra's activities and, optionally, the functions it can target."""
    # Imported here: it brings chaoslib, whose import is long, and importing this package
    # must not.
    from chaosthundra.discovery import discover as discover_activities

    return discover_activities(discover_system)
