"""Environments forked from a warm template that has imported the runtime's boto3."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sbx_helpers import alive, children, cmdline, invoke, wait_gone

# Reads its variables at import, as the agent does; says where it runs and what it sees.
SOURCE = """\
import os
import sys

imported_before_handler = sorted(m for m in ("boto3", "botocore", "thundra") if m in sys.modules)
import boto3

COLOR_AT_IMPORT = os.environ.get("COLOR")


def handler(event, context):
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "color_at_import": COLOR_AT_IMPORT,
        "environ": dict(os.environ),
        "boto3": boto3.__file__,
        "handler_module": __file__,
        "imported_before_handler": imported_before_handler,
        "host_modules": sorted(m for m in ("chaosthundra", "moto", "pytest") if m in sys.modules),
    }
"""


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():  # fixed times: the same files, the same CodeSha256
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


@pytest.fixture
def make_function(lambda_client: Any):
    made = []
    role = lambda_client.get_function_configuration(FunctionName="sbx-changing")["Role"]

    def make(files: dict[str, str], variables: dict[str, str], timeout: int = 10) -> str:
        name = f"sbx-tpl-{uuid.uuid4().hex[:10]}"
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="forked.handler",
            Code={"ZipFile": _zip(files)},
            Timeout=timeout,
            Environment={"Variables": variables},
        )
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
        made.append(name)
        return name

    yield make
    for name in made:
        lambda_client.delete_function(FunctionName=name)


def _set(lambda_client: Any, name: str, variables: dict[str, str]) -> None:
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": variables}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_forked_environments_see_only_their_own_variables_read_at_import(
    lambda_client: Any, make_function: Any
) -> None:
    code = {"forked.py": SOURCE}  # one package, so one template, for both functions
    red = make_function(code, {"COLOR": "red", "ONLY_RED": "1"})
    blue = make_function(code, {"COLOR": "blue"})
    out_red = invoke(lambda_client, red, {})["payload"]
    out_blue = invoke(lambda_client, blue, {})["payload"]
    assert out_red["parent"] == out_blue["parent"] != os.getpid()  # forked, one template
    assert out_red["color_at_import"] == "red" and out_blue["color_at_import"] == "blue"
    assert "ONLY_RED" not in out_blue["environ"]
    assert out_red["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == red
    assert out_blue["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == blue
    assert out_red["imported_before_handler"] == ["boto3", "botocore"]  # preloaded, no agent
    assert out_red["boto3"].startswith(out_red["environ"]["PYTHONPATH"])  # the runtime's
    assert out_red["handler_module"].startswith(out_red["environ"]["LAMBDA_TASK_ROOT"])
    assert out_red["host_modules"] == []


def test_a_configuration_change_reaches_only_new_forked_environments(
    lambda_client: Any, make_function: Any
) -> None:
    name = make_function({"forked.py": SOURCE}, {"COLOR": "red"})
    first = invoke(lambda_client, name, {})["payload"]
    assert invoke(lambda_client, name, {})["payload"]["pid"] == first["pid"]  # warm
    _set(lambda_client, name, {"COLOR": "green"})
    after = invoke(lambda_client, name, {})["payload"]
    assert after["pid"] != first["pid"] and after["parent"] == first["parent"]
    assert after["color_at_import"] == "green"
    assert not alive(first["pid"])  # the old environment was retired


def test_a_timeout_kills_a_forked_environment(lambda_client: Any, make_function: Any) -> None:
    name = make_function({"forked.py": SOURCE}, {}, timeout=1)
    first = invoke(lambda_client, name, {})["payload"]
    assert first["parent"] != os.getpid()
    out = invoke(lambda_client, name, {"sleep": 30})
    assert out["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in out["payload"]["errorMessage"]
    assert not alive(first["pid"])
    assert invoke(lambda_client, name, {})["payload"]["pid"] != first["pid"]


@pytest.mark.parametrize(
    "files,variables",
    [
        ({"forked.py": SOURCE, "boto3/__init__.py": "__file__ = __file__\n"}, {}),
        ({"forked.py": SOURCE}, {"PYTHONHASHSEED": "7"}),
    ],
    ids=["own-boto3", "interpreter-variable"],
)
def test_a_fresh_interpreter_when_the_template_would_differ(
    lambda_client: Any, make_function: Any, files: dict[str, str], variables: dict[str, str]
) -> None:
    name = make_function(files, variables)
    out = invoke(lambda_client, name, {})["payload"]
    assert out["parent"] == os.getpid()  # spawned by the sandbox itself
    if "boto3/__init__.py" in files:
        assert out["boto3"].startswith(out["environ"]["LAMBDA_TASK_ROOT"])


def test_a_template_with_live_environments_is_not_ended_beyond_the_limit(
    sandbox: Any, lambda_client: Any, make_function: Any
) -> None:
    templates = sandbox._invoker.templates
    before = templates.limit
    templates.limit = 1
    try:
        first = make_function({"forked.py": SOURCE}, {})
        warm = invoke(lambda_client, first, {})["payload"]
        other = make_function({"forked.py": SOURCE + "\nOTHER = 1\n"}, {})  # another package
        assert invoke(lambda_client, other, {})["payload"]["parent"] != warm["parent"]
        again = invoke(lambda_client, first, {})["payload"]
        assert again["pid"] == warm["pid"]  # its environment still serves, warm
        assert alive(warm["parent"])
    finally:
        templates.limit = before


def _templates_of(pid: int) -> set[int]:
    return {child for child in children(pid) if "--template" in cmdline(child)}


def test_a_deployment_can_start_its_templates_before_the_first_cold_start(
    sandbox: Any, lambda_client: Any, tmp_path: Path
) -> None:
    name = f"sbx-warm-{uuid.uuid4().hex[:10]}"
    code = tmp_path / "code"
    code.mkdir()  # a package of its own (its own CodeSha256), so a template of its own
    (code / "forked.py").write_text(SOURCE + f"\nPACKAGE = {name!r}\n", encoding="utf-8")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Warm:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        f"      FunctionName: {name}\n"
        "      Runtime: python3.11\n"
        "      CodeUri: code/\n"
        "      Handler: forked.handler\n"
        "      Environment:\n"
        "        Variables:\n"
        "          COLOR: amber\n",
        encoding="utf-8",
    )
    before = _templates_of(os.getpid())
    sandbox.warm_templates = True
    try:
        sandbox.deploy(tmp_path / "template.yaml")
    finally:
        sandbox.warm_templates = False
    try:
        started = _templates_of(os.getpid()) - before
        assert len(started) == 1  # started by the deployment, no invoke yet
        out = invoke(lambda_client, name, {})["payload"]
        assert out["parent"] in started  # the first cold start forked from it
        assert out["color_at_import"] == "amber"  # the variables, read at import
        assert out["imported_before_handler"] == ["boto3", "botocore"]
        assert out["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == name
    finally:
        lambda_client.delete_function(FunctionName=name)


def test_a_template_kills_only_children_it_has_not_reaped(
    sandbox: Any, lambda_client: Any, make_function: Any
) -> None:
    # Pids wrap around (32768 on this machine): once a template has reaped a child,
    # its pid may be another process's, and a kill by pid would hit that one.
    name = make_function({"forked.py": SOURCE}, {})
    out = invoke(lambda_client, name, {})["payload"]
    (template,) = [  # the sandbox's own object for the template that forked it
        t for t in sandbox._invoker.templates._templates.values() if t._proc.pid == out["parent"]
    ]
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        template.kill_child(stranger.pid)  # not its child: left alone
        template.kill_child(out["pid"])  # its child: killed, after the request above
        assert wait_gone([out["pid"]]) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_cold_starts_work_with_descriptors_past_1024(
    lambda_client: Any, make_function: Any
) -> None:
    # A sandbox with many environments holds many pipes: the descriptors of a new
    # environment (and of a new template's control socket) then pass select()'s limit.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert max(filler) > 1024
        name = make_function({"forked.py": SOURCE + "\nFRESH_PACKAGE = True\n"}, {})
        first = invoke(lambda_client, name, {})  # a new template, then a forked child
        assert "FunctionError" not in first, first["payload"]
        assert first["payload"]["parent"] != os.getpid()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
