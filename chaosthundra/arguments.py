"""Checks of activity arguments that more than one face uses."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed


def bounded_int(name: str, value: Any, maximum: int) -> int:
    """``value`` when it is a whole number from 1 to ``maximum``; else ActivityFailed."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ActivityFailed(
            f"chaosthundra: {name} must be a whole number from 1 to {maximum}, got {value!r}."
        )
    return value
