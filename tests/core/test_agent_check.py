"""The agent check: the parser of the agent the function bundles, in an isolated child."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import agent_check
from chaosthundra.agents import CATCHPOINT, THUNDRA
from chaosthundra.agents.package import bundled_in, unpack
from chaosthundra.listeners import InvalidInjection, encode, error_listener, span_filter
from tests.sandbox_functions import CATCHPOINT_REQUIREMENTS, THUNDRA_2_REQUIREMENTS, package

OWN_ERROR = "class CacheDown(Exception):\n    pass\n"


def _config(error_type: str = "redis.ConnectionError") -> dict:
    return error_listener([span_filter(class_name="Redis")], error_type=error_type)


def _unpacked(files: dict, requirements: str) -> Path:
    data = package(files, requirements)
    return unpack(hashlib.sha256(data).hexdigest(), data)


def test_a_module_in_the_working_directory_does_not_change_the_verdict(tmp_path, monkeypatch):
    (tmp_path / "redis.py").write_text("raise ImportError('shadowed redis')\n")
    (tmp_path / "opentracing.py").write_text("raise ImportError('shadowed opentracing')\n")
    monkeypatch.chdir(tmp_path)
    shadowed = subprocess.run(
        [sys.executable, "-c", "import redis"], capture_output=True, text=True, check=False
    )
    assert "shadowed redis" in shadowed.stderr  # a plain child would have picked it up
    config = _config()
    agent_check.describe.cache_clear()
    assert "thundra 2.7.4" in agent_check.check(config, encode(config))


def test_a_crash_of_the_parser_is_an_activity_failure_that_says_what_to_do(tmp_path):
    (tmp_path / "thundra").mkdir()
    (tmp_path / "thundra" / "__init__.py").write_text("raise RuntimeError('agent broken')\n")
    config = _config()
    with pytest.raises(ActivityFailed) as raised:
        agent_check.check(config, encode(config), THUNDRA, tmp_path)
    message = str(raised.value)
    assert "agent broken" in message
    assert "that its requirements were installed into it" in message


def test_a_parser_that_does_not_answer_is_an_activity_failure(tmp_path, monkeypatch):
    (tmp_path / "thundra").mkdir()
    (tmp_path / "thundra" / "__init__.py").write_text(
        "import threading\nthreading.Event().wait()\n"  # blocks for ever
    )
    monkeypatch.setattr(agent_check, "CHECK_TIMEOUT_S", 2)
    config = _config()
    with pytest.raises(ActivityFailed) as raised:
        agent_check.check(config, encode(config), THUNDRA, tmp_path)
    assert "did not answer within 2 s" in str(raised.value)


@pytest.mark.parametrize(
    "agent,requirements,version",
    [(THUNDRA, THUNDRA_2_REQUIREMENTS, "2.7.4"), (CATCHPOINT, CATCHPOINT_REQUIREMENTS, "3.0.10")],
)
def test_an_error_type_of_the_functions_own_package_is_accepted(agent, requirements, version):
    files = {"app.py": "def handler(e, c):\n    return 1\n", "errors_of_app.py": OWN_ERROR}
    root = _unpacked(files, requirements)
    assert bundled_in(root).profile is agent
    assert bundled_in(root).version == version
    config = _config("errors_of_app.CacheDown")
    who = agent_check.check(config, encode(config), agent, root)
    assert who == f"thundra {version} from the function's package"
    with pytest.raises(InvalidInjection, match="cannot be imported where the agent runs"):
        agent_check.check(config, encode(config), THUNDRA, None)  # the host's agent: no such type


def test_without_the_package_the_installed_agent_checks_and_says_so():
    config = _config()
    who = agent_check.check(config, encode(config), CATCHPOINT, None)
    assert who.startswith("thundra 2.7.4 installed beside chaosthundra")
    assert "takes the same listener configs" in who
