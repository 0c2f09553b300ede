"""The runtimes module: which interpreter serves a Runtime, and what the runtime provides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaosthundra import runtimes

HERE = "python{}.{}".format(*sys.version_info[:2])


def test_runtime_names_parse():
    assert runtimes.version_of("python3.12") == (3, 12)
    assert runtimes.version_of("nodejs20.x") is None
    assert runtimes.version_of("provided.al2023") is None
    assert not runtimes.is_python("java21")


def test_this_interpreter_is_found_for_its_own_runtime():
    found = runtimes.interpreter(HERE, {HERE: sys.executable})
    assert found is not None and found.version == sys.version_info[:2]


def test_an_explicit_interpreter_of_the_wrong_version_is_not_replaced(tmp_path):
    other = "python3.99"
    assert runtimes.interpreter(other, {other: sys.executable}) is None


def test_a_bad_mapping_names_the_entry():
    with pytest.raises(ValueError, match="nodejs=/x"):
        runtimes.parse_mapping("python3.12=/a,nodejs=/x")
    assert runtimes.parse_mapping(" python3.12=/a , ") == {"python3.12": "/a"}


def test_missing_interpreter_message_says_how_to_provide_one():
    message = runtimes.missing_interpreter_message("python3.14")
    assert "python3.14" in message and runtimes.ENV_VARIABLE in message
    assert "not a Python runtime" in runtimes.missing_interpreter_message("nodejs20.x")


def test_provided_packages_hold_boto3_for_the_runtime(tmp_path: Path):
    python = runtimes.interpreter(HERE, {HERE: sys.executable})
    folder = runtimes.provided_packages(python, tmp_path)
    assert (folder / "boto3" / "__init__.py").is_file()
    assert not (folder / "pytest").exists()
    answer = subprocess.run(
        [
            str(python.path),
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(folder)!r}); import boto3; print(boto3.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout.startswith(str(folder))
    assert runtimes.provided_packages(python, tmp_path) == folder  # kept
