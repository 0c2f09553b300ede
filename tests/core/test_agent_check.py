"""The agent check: the parser of the agent the function bundles, in an isolated child on
the interpreter of the function's Runtime, with what that runtime provides."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosthundra import runtimes
from chaosthundra.agents import CATCHPOINT, THUNDRA, parser_process
from chaosthundra.agents import check as agent_check
from chaosthundra.agents.package import bundled_in, unpack
from chaosthundra.agents.package import cache_root as functions_cache
from chaosthundra.cache import cache_base
from chaosthundra.listeners import (
    InvalidInjection,
    encode,
    error_listener,
    latency_listener,
    span_filter,
)
from chaosthundra.sandbox.packages import cache_root as packages_cache
from tests.sandbox_functions import CATCHPOINT_REQUIREMENTS, THUNDRA_2_REQUIREMENTS, package

OWN_ERROR = "class CacheDown(Exception):\n    pass\n"


def _config(error_type: str = "redis.ConnectionError") -> dict:
    return error_listener([span_filter(class_name="Redis")], error_type=error_type)


# The session's cache, read before any test moves CHAOSTHUNDRA_CACHE_DIR: packages come
# from it (built once per run), so a test with verdicts of its own builds nothing again.
SHARED_PACKAGES, SHARED_FUNCTIONS = packages_cache(), functions_cache()
SHARED_RUNTIMES = cache_base() / "runtimes"  # what each runtime provides (boto3, botocore)
HERE = agent_check.HOST_RUNTIME


def _without_filters() -> dict:
    """A listener config with an empty list of span filters (which listeners.py refuses)."""
    config = _config()
    config["config"]["filters"] = []
    return config


def _unpacked(files: dict, requirements: str) -> Path:
    data = package(files, requirements, cache=SHARED_PACKAGES)
    return unpack(hashlib.sha256(data).hexdigest(), data, root=SHARED_FUNCTIONS)


@pytest.fixture
def fresh_verdicts(tmp_path, monkeypatch) -> Path:
    """A verdict cache of this test's own, so the parser really runs (packages still come
    from the shared cache)."""
    monkeypatch.setenv("CHAOSTHUNDRA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    SHARED_RUNTIMES.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cache" / "runtimes").symlink_to(SHARED_RUNTIMES)
    return tmp_path / "cache" / "verdicts"


def _editable_copy(root: Path, into: Path) -> Path:
    """``root`` with the agent package and its dist-info copied (so they can be changed)
    and everything else linked."""
    into.mkdir()
    for entry in root.iterdir():
        if entry.name == "thundra" or entry.name.startswith("thundra-"):
            shutil.copytree(entry, into / entry.name)
        else:
            (into / entry.name).symlink_to(entry)
    return into


def _rewrite(source: Path, text: str) -> None:
    """Change a module of a package (whose bytecode is unchecked-hash, so it goes too)."""
    source.write_text(text)
    shutil.rmtree(source.parent / "__pycache__", ignore_errors=True)


def test_a_module_in_the_working_directory_does_not_change_the_verdict(
    tmp_path, monkeypatch, fresh_verdicts
):
    (tmp_path / "redis.py").write_text("raise ImportError('shadowed redis')\n")
    (tmp_path / "opentracing.py").write_text("raise ImportError('shadowed opentracing')\n")
    monkeypatch.chdir(tmp_path)
    shadowed = subprocess.run(
        [sys.executable, "-c", "import redis"], capture_output=True, text=True, check=False
    )
    assert "shadowed redis" in shadowed.stderr  # a plain child would have picked it up
    config = _config()
    assert "thundra 2.7.4" in agent_check.check(config, encode(config))
    assert len(list(fresh_verdicts.iterdir())) == 1  # the parser ran: a verdict was kept


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
    monkeypatch.setattr(agent_check, "CHECK_TIMEOUT_S", 1)
    config = _config()
    with pytest.raises(ActivityFailed) as raised:
        agent_check.check(config, encode(config), THUNDRA, tmp_path)
    assert "did not answer within 1 s" in str(raised.value)


def test_a_config_without_span_filters_is_refused_cleanly(fresh_verdicts):
    # built by hand: the actions refuse it before the check (tests/core/test_bad_inputs.py),
    # but the check itself must refuse it too; the agent stores a filterer where its list
    # of filters belongs when given none, which the checker once could not describe
    config = _without_filters()
    with pytest.raises(InvalidInjection) as raised:
        agent_check.check(config, encode(config))
    message = str(raised.value)
    assert "has no span filter" in message and "Give class_name" in message
    assert "Traceback" not in message
    assert len(list(fresh_verdicts.iterdir())) == 1  # the agent's parser answered


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
    who = agent_check.check(config, encode(config), agent, root, HERE)
    assert who.startswith(f"thundra {version} from the function's package, on {HERE} (")
    with pytest.raises(InvalidInjection, match="cannot be imported where the agent runs"):
        agent_check.check(config, encode(config), THUNDRA, None)  # the host's agent: no such type


def test_without_the_package_the_installed_agent_checks_and_says_so():
    config = _config()
    who = agent_check.check(config, encode(config), CATCHPOINT, None)
    assert who.startswith("thundra 2.7.4 installed beside chaosthundra")
    assert "takes the same listener configs" in who


def test_a_verdict_is_kept_and_asked_again_when_the_agent_changes(tmp_path, fresh_verdicts):
    source = _unpacked({"app.py": "x = 1\n"}, THUNDRA_2_REQUIREMENTS)
    root = _editable_copy(source, tmp_path / "pkg")
    config = _config()
    value = encode(config)
    assert agent_check.check(config, value, THUNDRA, root).startswith(
        "thundra 2.7.4 from the function's package"
    )
    # a part of the agent outside the verdict's key now breaks the parser: the kept
    # verdict answers, so the parser did not run again
    listeners = root / "thundra" / "listeners" / "__init__.py"
    original = listeners.read_text()
    _rewrite(listeners, "raise RuntimeError('parser broken')\n")
    assert agent_check.check(config, value, THUNDRA, root).startswith("thundra 2.7.4")
    # another agent version: asked again (and a failure is not kept)
    dist_info = root / "thundra-2.7.5.dist-info"
    (root / "thundra-2.7.4.dist-info").rename(dist_info)
    metadata = dist_info / "METADATA"
    metadata.write_text(metadata.read_text().replace("Version: 2.7.4", "Version: 2.7.5", 1))
    with pytest.raises(ActivityFailed, match="parser broken"):
        agent_check.check(config, value, THUNDRA, root)
    _rewrite(listeners, original)
    assert agent_check.check(config, value, THUNDRA, root).startswith(
        "thundra 2.7.5 from the function's package"
    )
    # the agent's parser edited in place: asked again
    parser = root / "thundra" / "plugins" / "trace" / "trace_support.py"
    _rewrite(parser, "raise RuntimeError('parser edited')\n" + parser.read_text())
    with pytest.raises(ActivityFailed, match="parser edited"):
        agent_check.check(config, value, THUNDRA, root)


@pytest.mark.parametrize("agent", [THUNDRA, CATCHPOINT])
def test_the_lean_parser_import_reads_configs_as_the_whole_agent_does(agent):
    requirements = THUNDRA_2_REQUIREMENTS if agent is THUNDRA else CATCHPOINT_REQUIREMENTS
    root = str(_unpacked({"app.py": "x = 1\n"}, requirements))
    values = [
        encode(_config()),
        encode(_config("no_such_module.Error")),
        json.dumps(latency_listener([span_filter(tags={"aws.lambda.name": "up"})], 2500, 100)),
        json.dumps(
            {
                "type": "FilteringSpanListener",
                "config": {
                    "listener": {
                        "type": "LatencyInjectorSpanListener",
                        "config": {"delay": -5, "distribution": "weird"},
                    },
                    "filters": [{"className": "Redis"}],
                },
            }
        ),
        json.dumps({"type": "NoSuchListener", "config": {"a": 1}}),
        encode(_without_filters()),
    ]
    lean = [parser_process.parse(v, agent, root, 60) for v in values]
    full = [parser_process.parse(v, agent, root, 60, full=True) for v in values]
    assert lean == full
    assert [len(d["listeners"]) for d in lean] == [1, 1, 1, 1, 0, 1]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie has ended; only its exit status is left


def _wait_until(condition, what: str, bound_s: float = 30.0) -> None:
    deadline = time.monotonic() + bound_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {bound_s} s"
        time.sleep(0.05)


def test_a_checker_process_is_reused_and_replaced_when_it_crashed(fresh_verdicts):
    installed = agent_check.setting(THUNDRA)
    first = _config("KeyError")
    agent_check.check(first, encode(first))
    pid = parser_process.running_pid(THUNDRA, installed.folders, installed.python)
    assert pid is not None
    second = _config("ValueError")
    agent_check.check(second, encode(second))
    # the same process answered
    assert parser_process.running_pid(THUNDRA, installed.folders, installed.python) == pid
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: _gone(pid), "the killed checker ends")
    third = _config("LookupError")
    assert "thundra 2.7.4" in agent_check.check(third, encode(third))
    replacement = parser_process.running_pid(THUNDRA, installed.folders, installed.python)
    assert replacement is not None and replacement != pid


def test_a_checker_process_ends_with_the_process_that_started_it(tmp_path, fresh_verdicts):
    script = (
        "import sys\n"
        "from chaosthundra.agents import check as agent_check\n"
        "from chaosthundra.agents import THUNDRA, parser_process\n"
        "from chaosthundra.listeners import encode, error_listener, span_filter\n"
        "config = error_listener([span_filter(class_name='Redis')], 'KeyError')\n"
        "agent_check.check(config, encode(config))\n"
        "where = agent_check.setting(THUNDRA)\n"
        "print(parser_process.running_pid(THUNDRA, where.folders, where.python), flush=True)\n"
        "print(parser_process.spare_pid(), flush=True)\n"
        "sys.stdin.read()\n"  # until the test kills it
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        checker = int(parent.stdout.readline())
        spare = int(parent.stdout.readline())
        assert not _gone(checker) and not _gone(spare)
    finally:
        parent.kill()
        parent.wait()
    _wait_until(lambda: _gone(checker), "the checker ends with its parent")
    _wait_until(lambda: _gone(spare), "the spare checker ends with its parent")


def _spare_waiting() -> int:
    parser_process.start_spare()
    pid = parser_process.spare_pid()
    assert pid is not None
    return pid


def test_the_spare_checker_takes_a_new_folder_and_gives_the_same_verdicts(tmp_path, fresh_verdicts):
    root = str(
        _editable_copy(_unpacked({"app.py": "x = 1\n"}, THUNDRA_2_REQUIREMENTS), tmp_path / "a")
    )
    values = [
        encode(_config()),
        encode(_config("no_such_module.Error")),
        encode(_without_filters()),
        json.dumps(latency_listener([span_filter(tags={"aws.lambda.name": "up"})], 2500, 100)),
    ]
    spare = _spare_waiting()
    by_spare = [parser_process.parse(v, THUNDRA, root, 60) for v in values]
    assert parser_process.running_pid(THUNDRA, root) == spare  # the spare answered
    assert parser_process.spare_pid() not in (None, spare)  # and another one waits
    # what it learnt to import ahead is the standard library's alone
    learnt = json.loads((fresh_verdicts.parent / "checker-stdlib.json").read_text())
    assert "asyncio" in learnt and "json" in learnt  # redis imports asyncio
    assert not {"redis", "thundra", "opentracing"} & set(learnt)
    parser_process.stop_all()  # no spare now: a process of its own, warmed by nothing
    by_own = [parser_process.parse(v, THUNDRA, root, 60) for v in values]
    assert parser_process.running_pid(THUNDRA, root) != spare
    assert by_own == by_spare


def test_a_folder_shipping_a_module_the_spare_imported_ahead_gets_its_own_checker(
    tmp_path, fresh_verdicts
):
    fresh_verdicts.parent.mkdir(parents=True, exist_ok=True)
    (fresh_verdicts.parent / "checker-stdlib.json").write_text('["csv", "json"]')
    parser_process.stop_all()
    spare = _spare_waiting()  # imports the standard library's csv ahead
    root = _editable_copy(_unpacked({"app.py": "x = 1\n"}, THUNDRA_2_REQUIREMENTS), tmp_path / "b")
    (root / "csv.py").write_text("class Shipped(Exception):\n    pass\n")  # shadows csv
    config = _config("csv.Shipped")
    assert "thundra 2.7.4" in agent_check.check(config, encode(config), THUNDRA, root)
    where = agent_check.setting(THUNDRA, root)
    assert parser_process.running_pid(THUNDRA, where.folders, where.python) != spare
    assert parser_process.spare_pid() == spare  # still waiting for another folder


def _spare_of_a_process_running(script: str) -> int:
    """The spare checker that a new Python running ``script`` prints (its pid, or None
    and the test fails); it must end with that process."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    spare = int(done.stdout)
    _wait_until(lambda: _gone(spare), "the spare ends with the process that started it")
    return spare


def test_warm_up_starts_a_spare_checker_that_ends_with_its_process():
    # importing starts nothing (test_layers checks it for the faces); warm_up does
    script = (
        "from chaosthundra.agents import parser_process\n"
        "assert parser_process.spare_pid(parser_process._last_python()) is None\n"
        "print(parser_process.spare_pid(parser_process.warm_up()), flush=True)\n"
    )
    _spare_of_a_process_running(script)


def test_the_safeguard_starts_the_spare_checker_before_the_experiment():
    script = (
        "from chaosthundra.agents import parser_process\n"
        "from chaosthundra.controls import safeguard\n"
        "python = parser_process._last_python()\n"
        "assert parser_process.spare_pid(python) is None, 'a spare at import'\n"
        "safeguard.before_experiment_control({})\n"
        "print(parser_process.spare_pid(python), flush=True)\n"
    )
    _spare_of_a_process_running(script)


# ------------------------------------------------- the function's runtime, as Lambda runs it
RUNTIMES = ["python3.11", "python3.12", "python3.13"]
AGENT_ONLY = {THUNDRA: "thundra==2.7.4\n", CATCHPOINT: "thundra==3.0.10\n"}
DYNAMODB = [span_filter(class_name="AWS-DynamoDB")]


def _interpreter(runtime: str) -> runtimes.Interpreter:
    found = runtimes.interpreter(runtime)
    if found is None:
        pytest.skip(runtimes.missing_interpreter_message(runtime))
    return found


def _agent_only(agent) -> Path:
    """A package bundling the agent and its own dependencies, and neither boto3 nor redis."""
    root = _unpacked({"app.py": "x = 1\n"}, AGENT_ONLY[agent])
    assert not (root / "boto3").exists() and not (root / "botocore").exists()
    assert not (root / "redis").exists()
    return root


@pytest.mark.parametrize("agent", [THUNDRA, CATCHPOINT], ids=lambda a: a.name)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_runtimes_boto3_error_is_accepted_on_a_package_bundling_only_the_agent(
    runtime, agent, fresh_verdicts
):
    python = _interpreter(runtime)
    root = _agent_only(agent)
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    who = agent_check.check(config, encode(config), agent, root, runtime)
    assert f"from the function's package, on {runtime} ({python.path})" in who
    # the runtime's own folder came after the package, on that runtime's interpreter
    where = agent_check.setting(agent, root, runtime)
    assert where.python == str(python.path)
    assert where.folders[0] == str(root)
    assert (Path(where.folders[-1]) / "boto3").is_dir()
    assert len(list(fresh_verdicts.iterdir())) == 1  # the parser answered, not a kept verdict
    # a type neither the package nor the runtime has is still refused
    missing = error_listener(DYNAMODB, error_type="redis.ConnectionError")
    with pytest.raises(InvalidInjection, match="cannot be imported where the agent runs"):
        agent_check.check(missing, encode(missing), agent, root, runtime)


UNBUILDABLE = {
    "botocore.exceptions.ClientError": "missing 1 required positional argument",
    "botocore.exceptions.NoRegionError": "takes 1 positional argument but 2 were given",
    "UnicodeDecodeError": "takes exactly 5 arguments (1 given)",
}


@pytest.mark.parametrize("error_type", sorted(UNBUILDABLE))
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_type_the_agent_cannot_build_from_its_message_is_refused_and_says_why(
    runtime, error_type, fresh_verdicts
):
    _interpreter(runtime)
    config = error_listener(DYNAMODB, error_type=error_type)
    with pytest.raises(InvalidInjection) as raised:
        agent_check.check(config, encode(config), THUNDRA, _agent_only(THUNDRA), runtime)
    message = str(raised.value)
    short = error_type.rsplit(".", 1)[-1]
    assert "cannot be built from a message alone" in message
    assert f"{short}(error_message) fails with TypeError" in message
    assert UNBUILDABLE[error_type] in message
    assert "'boto3.exceptions.Boto3Error'" in message  # the suggestion
    assert "cannot be imported" not in message  # refused for this reason, not the import


def test_a_package_bundling_its_own_boto3_wins_over_the_runtimes(tmp_path, fresh_verdicts):
    # the package's boto3 has a Boto3Error that needs two arguments: if the runtime's
    # boto3 were found first, the check would accept the type
    root = _editable_copy(_agent_only(THUNDRA), tmp_path / "own-boto3")
    (root / "boto3").mkdir()
    (root / "boto3" / "__init__.py").write_text("")
    (root / "boto3" / "exceptions.py").write_text(
        "class Boto3Error(Exception):\n    def __init__(self, first, second):\n"
        "        super().__init__(first, second)\n"
    )
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    with pytest.raises(InvalidInjection, match="missing 1 required positional argument"):
        agent_check.check(config, encode(config), THUNDRA, root, HERE)


def test_verdicts_and_checkers_are_kept_per_runtime(fresh_verdicts):
    first, second = RUNTIMES[0], RUNTIMES[1]
    pythons = {_interpreter(first).path, _interpreter(second).path}
    assert len(pythons) == 2
    root = _agent_only(THUNDRA)
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    value = encode(config)
    for runtime in (first, second):
        assert f"on {runtime} (" in agent_check.check(config, value, THUNDRA, root, runtime)
    assert len(list(fresh_verdicts.iterdir())) == 2  # one verdict per runtime
    pids = set()
    for runtime in (first, second):
        where = agent_check.setting(THUNDRA, root, runtime)
        pid = parser_process.running_pid(THUNDRA, where.folders, where.python)
        assert pid is not None
        assert Path(f"/proc/{pid}/exe").resolve() == Path(where.python).resolve()
        pids.add(pid)
        # a spare of that runtime's interpreter waits for the next new folder
        assert parser_process.spare_pid(where.python) is not None
    assert len(pids) == 2


def test_without_a_runtime_the_check_runs_on_this_python_and_says_so(fresh_verdicts):
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    who = agent_check.check(config, encode(config), THUNDRA, _agent_only(THUNDRA))
    here = "{}.{}".format(*sys.version_info[:2])
    assert who.endswith(
        f"on this machine's Python {here} ({parser_process.HOST}), no Runtime given"
    )


def test_a_runtime_without_an_interpreter_here_is_checked_on_this_python_and_says_so(
    monkeypatch, caplog, fresh_verdicts
):
    monkeypatch.setenv(runtimes.ENV_VARIABLE, "python3.12=/nonexistent/python3.12")
    monkeypatch.setattr(agent_check, "_WARNED", set())
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    with caplog.at_level(logging.WARNING, logger="chaostoolkit"):
        who = agent_check.check(config, encode(config), THUNDRA, _agent_only(THUNDRA), "python3.12")
    here = "{}.{}".format(*sys.version_info[:2])
    assert f"on this machine's Python {here} ({parser_process.HOST}), not on python3.12" in who
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"runs on this machine's Python {here} instead" in warnings[0]
    assert runtimes.ENV_VARIABLE in warnings[0]  # and how to provide one


def test_a_remembered_interpreter_that_is_gone_is_looked_up_again(tmp_path, fresh_verdicts):
    python = _interpreter(HERE)
    gone = tmp_path / "python-that-was-removed"
    gone.write_text("")
    kept_dir = fresh_verdicts.parent / "interpreters"
    agent_check._interpreter(HERE)  # remembered
    (kept,) = kept_dir.iterdir()
    assert json.loads(kept.read_text())[0] == str(python.path)
    kept.write_text(json.dumps([str(gone), *python.version]))
    assert agent_check._interpreter(HERE).path == gone  # remembered: not run again
    gone.unlink()
    assert agent_check._interpreter(HERE).path == python.path


def test_the_spare_runs_on_the_interpreter_the_last_new_checker_ran_on(tmp_path, fresh_verdicts):
    # a runtime other than the host's: the host's own interpreter is the default already
    other = next(runtime for runtime in RUNTIMES if runtime != HERE)
    python = _interpreter(other)
    root = _agent_only(THUNDRA)
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    agent_check.check(config, encode(config), THUNDRA, root, other)
    assert json.loads((fresh_verdicts.parent / "checker-python.json").read_text()) == str(
        python.path
    )
    script = (
        "from chaosthundra.agents import parser_process\n"
        "parser_process.warm_up()\n"
        f"print(parser_process.spare_pid({str(python.path)!r}), flush=True)\n"
    )
    _spare_of_a_process_running(script)  # a spare of that runtime's interpreter


def test_a_virtual_environments_python_on_path_checks_as_the_python_it_links(
    monkeypatch, fresh_verdicts
):
    # chaos run from an activated virtual environment finds its python3.X first on PATH:
    # the checker is the real interpreter, the one this process's spare runs on
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / f"python{sys.version_info[0]}.{sys.version_info[1]}").exists()
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    # an interpreter remembered under the venv's own name (as before runtimes resolved it)
    venv_python = str(venv_bin / f"python{sys.version_info[0]}.{sys.version_info[1]}")
    agent_check._interpreter(HERE)
    (kept,) = (fresh_verdicts.parent / "interpreters").iterdir()
    kept.write_text(json.dumps([venv_python, *sys.version_info[:2]]))
    assert str(agent_check._interpreter(HERE).path) == venv_python
    where = agent_check.setting(THUNDRA, _agent_only(THUNDRA), HERE)
    assert where.python == parser_process.HOST
    spare = _spare_waiting()
    config = error_listener(DYNAMODB, error_type="boto3.exceptions.Boto3Error")
    agent_check.check(config, encode(config), THUNDRA, _agent_only(THUNDRA), HERE)
    assert parser_process.running_pid(THUNDRA, where.folders, where.python) == spare
    # the next process's spare: a venv's name written for it is read as its real file
    (fresh_verdicts.parent / "checker-python.json").write_text(json.dumps(venv_python))
    assert parser_process._last_python() == parser_process.HOST
