"""The package's layers, calls going one way (down), and no work at import.

``LAYERS`` places every module of today's tree in the layer the layout of issue 20
gives it (top first). A module may import from a layer below its own, and from its
own layer except among the faces (a face using another face for a helper is a layer
in the wrong place). Every import counts, also one inside a function.

Any upward import fails, naming it (the list of known ones that issue 20's moves
emptied is gone with its last entry).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "chaosthundra"

# (layer, module patterns), top first. Patterns are fnmatch on dotted names.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "application",
        ("chaosthundra", "chaosthundra.cli", "chaosthundra.discovery", "chaosthundra.gameday*"),
    ),
    # load/ holds the measure_load face (issue 21)
    (
        "faces",
        (
            "chaosthundra.actions",
            "chaosthundra.probes",
            "chaosthundra.controls*",
            "chaosthundra.load*",
        ),
    ),
    # the kill switch clears every injection through the engine's removal, as a face does
    ("kill switch", ("chaosthundra.safety.killswitch",)),
    ("engine", ("chaosthundra.engine*",)),
    (
        "safety",
        (
            "chaosthundra.safety",
            "chaosthundra.safety.guardrails",
            "chaosthundra.safety.verification",
        ),
    ),
    (
        "lambda",
        ("chaosthundra.targets*",),
    ),
    # listener configs are named after the agent's profile (DEFAULT, PROFILES, reader_of)
    ("listeners", ("chaosthundra.listeners",)),
    ("agents", ("chaosthundra.agents*",)),
    # The ledger is safety's record on disk, but the Lambda write path records each
    # step in it before the step (issue 19): a leaf below targets/, wherever it lives.
    (
        "aws, ledger",
        ("chaosthundra.aws", "chaosthundra.safety.ledger"),
    ),
    ("sandbox", ("chaosthundra.sandbox*",)),  # apart: it imports only itself and the leaves
    # imports nothing of chaosthundra; interrupts lands with issue 19
    (
        "shared leaves",
        (
            "chaosthundra.runtimes",
            "chaosthundra.interrupts",
            "chaosthundra.arguments",
            "chaosthundra.cache",
            "chaosthundra.endpoints",
            "chaosthundra.cli_options",
        ),
    ),
]
NO_PEER_IMPORTS = {"faces"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer_of(module: str) -> int | None:
    for rank, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch(module, pattern) for pattern in patterns):
            return rank
    return None


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The chaosthundra modules ``module`` imports (a name imported from a package
    counts as its submodule when there is one)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in known else source)
    return {name for name in found if name in known and name != module}


def _upward_imports() -> dict[tuple[str, str], str]:
    """Every import that goes up (or across faces): ``{(importer, imported): layers}``."""
    modules = _modules()
    upward = {}
    for module, path in modules.items():
        rank = _layer_of(module)
        for imported in _imports(module, path, set(modules)):
            below = _layer_of(imported)
            if rank is None or below is None:
                continue  # test_every_module_has_a_layer names it
            same_face = rank == below and LAYERS[rank][0] in NO_PEER_IMPORTS
            if below < rank or (same_face and _face(module) != _face(imported)):
                upward[(module, imported)] = f"{LAYERS[rank][0]} -> {LAYERS[below][0]}"
    return upward


def _face(module: str) -> str:
    """A face and its own submodules are one face (load.probes may use load.plan)."""
    return ".".join(module.split(".")[:2])


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in _modules() if _layer_of(m) is None)
    assert not unplaced, f"place these in LAYERS (tests/core/test_layers.py): {unplaced}"


def test_no_upward_import() -> None:
    new = _upward_imports()
    assert not new, "\n".join(
        f"{a} imports {b} ({how}): import from a lower layer instead" for (a, b), how in new.items()
    )


# Run in a fresh interpreter: import the module, wait for every thread the import
# started, then report each process it spawned (audit events) and its children.
_SPAWNS = """
import importlib, json, os, sys, threading
spawned = []
EVENTS = {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
          "os.system", "os.exec", "pty.spawn"}
def audit(event, args):
    if event in EVENTS:
        spawned.append(f"{event} {args!r:.160}")
sys.addaudithook(audit)
started = set(threading.enumerate())
importlib.import_module(sys.argv[1])
for thread in set(threading.enumerate()) - started:
    thread.join(timeout=120)
children = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
        children.append(int(pid))
print(json.dumps({"spawned": spawned, "children": children}))
"""


@pytest.mark.parametrize(
    "module",
    [
        "chaosthundra.actions",
        "chaosthundra.probes",
        "chaosthundra.controls.safeguard",
        "chaosthundra.controls.sandbox",
        "chaosthundra.discovery",
    ],
)
def test_importing_starts_no_process(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SPAWNS, module], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen == {"spawned": [], "children": []}, f"importing {module} started: {seen}"
