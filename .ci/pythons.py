"""Which Pythons this machine has, for .ci/run.

Prints one line per Lambda Python runtime (found where the sandbox would find it:
chaosthundra.runtimes, stdlib only), the other interpreters under pyenv, then one
``host python3.X PATH`` line per tested host Python (PATH empty when missing), which
.ci/run reads.
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaosthundra import runtimes  # noqa: E402  (the repository, before any install)

HOSTS = ("python3.11", "python3.12", "python3.13")


def main() -> int:
    found = {runtime: runtimes.interpreter(runtime) for runtime in runtimes.SUPPORTED}
    for runtime, python in found.items():
        role = "host + runtime" if runtime in HOSTS else "runtime only"
        where = python.path if python else "MISSING (its functions answer an error)"
        print(f"  {runtime:<11} {role:<15} {where}")
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    known = {str(p.path.resolve()) for p in found.values() if p}
    others = sorted(
        folder.name
        for folder in map(Path, glob.glob(str(root / "*")))
        if not any(path.startswith(str(folder.resolve()) + os.sep) for path in known)
    )
    if others:
        print(f"  also under {root}: {', '.join(others)} (not used)")
    for runtime in HOSTS:
        print("host", runtime, found[runtime].path if found[runtime] else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
