"""Probes used only by the end-to-end tests (imported by `chaos run` via PYTHONPATH)."""

from pathlib import Path


def fail_once_marked(marker: str) -> bool:
    """True until the method has created `marker`; then raise, as a broken probe would."""
    if Path(marker).exists():
        raise RuntimeError("probe broke after the method (test of the safeguard)")
    return True


def wait_for_file(path: str, timeout: float = 120) -> bool:
    """Return True once `path` exists (the test creates it): holds a run at this step."""
    import time

    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not created within {timeout} s")
        time.sleep(0.05)
    return True
