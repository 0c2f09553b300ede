"""Pure parts of the sandbox: the worker's framing, the log tail, intrinsic functions."""

from __future__ import annotations

import base64
import os
import threading
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chaosthundra.sandbox import worker
from chaosthundra.sandbox.logs import TAIL_BYTES, tail
from chaosthundra.sandbox.routing import pick_version
from chaosthundra.sandbox.sam import Resolver

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=50, deadline=None)
@given(header=st.dictionaries(st.text(), json_values, max_size=5), body=st.binary(max_size=200_000))
def test_frames_round_trip_through_a_pipe(header: dict, body: bytes) -> None:
    read_fd, write_fd = os.pipe()
    try:
        # A writer thread: frames larger than the pipe buffer must not deadlock.
        writer = threading.Thread(target=worker.write_frame, args=(write_fd, header, body))
        writer.start()
        assert worker.read_frame(read_fd) == (header, body)
        writer.join()
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_read_frame_at_end_of_file_is_none() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"\0\0")  # a truncated frame, then EOF
    os.close(write_fd)
    try:
        assert worker.read_frame(read_fd) is None
    finally:
        os.close(read_fd)


@given(st.text(max_size=10_000))
def test_tail_is_the_last_4_kb(text: str) -> None:
    data = base64.b64decode(tail(text))
    encoded = text.encode("utf-8", "replace")
    assert len(data) <= TAIL_BYTES
    assert encoded.endswith(data)
    assert len(data) == min(len(encoded), TAIL_BYTES)


@given(st.text(alphabet=st.characters(blacklist_characters="${}"), max_size=30))
def test_sub_keeps_text_without_variables(text: str) -> None:
    resolver = Resolver(Path("t.yaml"), {"P": "v"}, {}, "us-east-1")
    assert resolver.sub(text, "here") == text
    assert resolver.sub(f"{text}${{P}}${{!P}}", "here") == f"{text}v${{P}}"


@given(
    weights=st.dictionaries(
        st.integers(1, 9).map(str), st.floats(0, 0.3, exclude_max=True), max_size=3
    )
)
def test_alias_routing_gives_each_version_its_weight(weights: dict) -> None:
    steps = 1000  # draws spread evenly over [0, 1)
    picks = Counter(pick_version("10", weights, lambda i=i: i / steps) for i in range(steps))
    expected = {**weights, "10": 1 - sum(weights.values())}  # FunctionVersion: the rest
    for version, weight in expected.items():
        assert abs(picks[version] - weight * steps) <= 1 + len(weights)


def _zip_of(files: dict[str, str]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_unpacked_code_is_kept_for_the_next_sandbox(tmp_path: Path) -> None:
    import hashlib

    from chaosthundra.sandbox.code import CodeCache

    data = _zip_of({"app.py": "x = 1\n", "pkg/mod.py": "y = 2\n"})
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    loads: list[str] = []

    def load() -> bytes:
        loads.append("loaded")
        return data

    first = CodeCache(tmp_path).task_root(sha, load)
    assert (first / "pkg" / "mod.py").read_text() == "y = 2\n"
    second = CodeCache(tmp_path).task_root(sha, load)  # another sandbox, the same code
    assert second == first and loads == ["loaded"]
    other = _zip_of({"app.py": "x = 3\n"})
    other_sha = base64.b64encode(hashlib.sha256(other).digest()).decode()
    assert (CodeCache(tmp_path).task_root(other_sha, lambda: other) / "app.py").read_text() == (
        "x = 3\n"
    )


def test_code_unpacked_meanwhile_by_another_sandbox_is_used(tmp_path: Path) -> None:
    from chaosthundra.sandbox.code import CodeCache

    mine, theirs = CodeCache(tmp_path), CodeCache(tmp_path)
    data = _zip_of({"app.py": "x = 1\n"})

    def load_while_the_other_unpacks() -> bytes:
        theirs.task_root("same-sha", lambda: data)  # finishes first
        return data

    root = mine.task_root("same-sha", load_while_the_other_unpacks)
    assert (root / "app.py").read_text() == "x = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # no staging left behind


def test_code_not_used_for_long_is_removed(tmp_path: Path) -> None:
    from chaosthundra.sandbox.code import KEEP_DAYS, CodeCache

    cache = CodeCache(tmp_path)
    old = cache.task_root("old-sha", lambda: _zip_of({"a.py": ""}))
    recent = cache.task_root("recent-sha", lambda: _zip_of({"b.py": ""}))
    long_ago = old.stat().st_mtime - (KEEP_DAYS + 1) * 86400
    os.utime(old, (long_ago, long_ago))
    CodeCache(tmp_path)
    assert not old.exists() and recent.is_dir()


def _imports_outside(sources: list[Path], allowed: tuple[str, ...]) -> list[str]:
    import ast

    outside = []
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                joint = "." if node.module else ""
                names = [f"{module}{joint}{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("..") or (
                    name.startswith("chaosthundra") and not name.startswith(allowed)
                ):
                    outside.append(f"{source.name}: {name}")
    return outside


def test_the_sandbox_imports_nothing_of_the_rest_of_chaosthundra_but_the_shared_leaves() -> None:
    import chaosthundra.cache as cache
    import chaosthundra.runtimes as runtimes
    import chaosthundra.sandbox as package

    sources = list(Path(package.__file__).parent.glob("*.py"))
    allowed = ("chaosthundra.sandbox", "chaosthundra.runtimes", "chaosthundra.cache")
    assert _imports_outside(sources, allowed) == []
    assert _imports_outside([Path(runtimes.__file__)], ("chaosthundra.runtimes",)) == []  # a leaf
    assert _imports_outside([Path(cache.__file__)], ("chaosthundra.cache",)) == []  # a leaf


def test_the_sandbox_credentials_come_without_moto() -> None:
    import subprocess
    import sys

    code = (
        "import sys, chaosthundra.aws as aws\n"
        "from chaosthundra.sandbox.credentials import SANDBOX_CREDENTIALS\n"
        "assert aws.SANDBOX_CREDENTIALS is SANDBOX_CREDENTIALS\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'moto'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_package_unlike_its_code_sha256_never_takes_another_packages_place(
    tmp_path: Path,
) -> None:
    import hashlib

    from chaosthundra.sandbox.code import CodeCache

    right = _zip_of({"app.py": "x = 'right'\n"})
    wrong = _zip_of({"app.py": "x = 'wrong'\n"})
    sha = base64.b64encode(hashlib.sha256(right).digest()).decode()
    misnamed = CodeCache(tmp_path).task_root(sha, lambda: wrong)  # first, under right's sha
    assert (misnamed / "app.py").read_text() == "x = 'wrong'\n"
    assert misnamed.name == hashlib.sha256(wrong).hexdigest()
    rightful = CodeCache(tmp_path).task_root(sha, lambda: right)
    assert (rightful / "app.py").read_text() == "x = 'right'\n"
    assert rightful.name == hashlib.sha256(right).hexdigest()


def test_many_sandboxes_unpacking_one_package_at_once_all_get_it_whole(tmp_path: Path) -> None:
    import hashlib
    import threading

    from chaosthundra.sandbox.code import CodeCache

    files = {f"pkg/m{i}.py": f"value = {i}\n" * 200 for i in range(50)}
    data = _zip_of(files)
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    start = threading.Barrier(8)
    roots: list[Path] = []

    def unpack() -> None:
        cache = CodeCache(tmp_path)  # each its own: only the file system is shared
        start.wait()
        root = cache.task_root(sha, lambda: data)
        assert {p: (root / p).read_text() for p in files} == files
        roots.append(root)

    threads = [threading.Thread(target=unpack) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(roots) == 8 and len(set(roots)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [roots[0].name]  # no staging left


def test_one_package_built_by_threads_at_once_is_cached_whole(tmp_path: Path) -> None:
    import threading

    from chaosthundra.sandbox.packages import cache_root, package_zip

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (code / "requirements.txt").write_text("redis>=5.0,<9\n")
    root = cache_root()  # the shared cache: the requirements are built once per run
    package_zip(code, root)
    zips = root / "zips"
    built = {p: p.stat().st_mtime_ns for p in zips.iterdir()}
    start = threading.Barrier(6)
    answers: list[bytes] = []

    def build() -> None:
        start.wait()
        answers.append(package_zip(code, root))

    cached = next(p for p in zips.iterdir() if p.read_bytes() == package_zip(code, root))
    cached.unlink()  # each thread builds and writes it again
    threads = [threading.Thread(target=build) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 6 and len(set(answers)) == 1
    assert cached.read_bytes() == answers[0]
    assert not [p for p in zips.iterdir() if p.suffix == ".part" and p not in built]
