"""docs/architecture.md draws the package's tree: every module in it, and nothing that is
gone. When a module is added, moved or removed, redraw its line there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "chaosthundra"
ENTRY = re.compile(r"(├──|└──) (\S+)")


def drawn_paths(text: str) -> set[str]:
    """The paths (relative to chaosthundra/) that the tree in ``text`` draws.

    An entry's depth is its marker's column over 4; a name ending in ``/`` opens a
    folder for the deeper entries below it, and a name may carry folders of its own
    (``safety/killswitch.py`` at the top, ``templates/report.html`` inside gameday/).
    """
    block = text.split("```\nchaosthundra/\n", 1)[1].split("```", 1)[0]
    folders: list[str] = []
    paths: set[str] = set()
    for line in block.splitlines():
        match = ENTRY.search(line)
        if match is None:
            continue
        depth = match.start() // 4
        name = match.group(2)
        del folders[depth:]
        path = "/".join([*folders, name.rstrip("/")])
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        else:
            paths.add(path)
    return paths


def test_the_drawn_tree_is_the_package():
    drawn = drawn_paths((REPO / "docs" / "architecture.md").read_text(encoding="utf-8"))
    modules = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    # a package's __init__ is drawn where it holds something of its own
    missing = sorted(m for m in modules - drawn if not m.endswith("__init__.py"))
    gone = sorted(p for p in drawn if not (PACKAGE / p).exists())
    assert not missing, f"docs/architecture.md does not draw {missing}"
    assert not gone, f"docs/architecture.md draws {gone}, which are not in chaosthundra/"


def test_the_tree_reader_follows_folders():
    text = (
        "```\nchaosthundra/\n├── cli.py   x\n├── safety/killswitch.py  y\n"
        "├── gameday/\n│   ├── plan.py   z\n│   └── templates/report.html  w\n"
        "│\n└── sandbox/\n    └── core.py  v\n```\n"
    )
    assert drawn_paths(text) == {
        "cli.py",
        "safety/killswitch.py",
        "gameday/plan.py",
        "gameday/templates/report.html",
        "sandbox/core.py",
    }
