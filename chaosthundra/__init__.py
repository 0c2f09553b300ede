"""Chaos Toolkit extension: inject errors and latency into AWS Lambda functions
through Thundra span listeners, and judge what happens."""

__version__ = "0.1.0"

from chaosthundra.discovery import discover  # noqa: E402

__all__ = ["__version__", "discover"]
