"""Entry module of the `chaosthundra` alias distribution (see pyproject.toml)."""

from chaosthundra import discover

__all__ = ["discover"]
