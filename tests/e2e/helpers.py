"""Probes used only by the end-to-end tests (imported by `chaos run` via PYTHONPATH)."""

from pathlib import Path


def fail_once_marked(marker: str) -> bool:
    """True until the method has created `marker`; then raise, as a broken probe would."""
    if Path(marker).exists():
        raise RuntimeError("probe broke after the method (test of the safeguard)")
    return True
