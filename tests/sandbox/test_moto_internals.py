"""The moto internals the sandbox relies on (``moto_internals.MOTO_INTERNALS``) exist in the
installed moto: one test per name, failing with the name and why the sandbox needs it.

Run this first when moto moves past the pin in pyproject.toml. Attributes that moto
sets in ``__init__`` (``"module:Class().attr"``) are looked up on live objects of the
session's sandbox: a function, a version, a weighted alias and a log group created
here.
"""

from __future__ import annotations

import ast
import importlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from sandbox_functions import create_function
from sbx_helpers import make_client

from chaosthundra.sandbox import Sandbox
from chaosthundra.sandbox.moto_internals import MOTO_INTERNALS

SANDBOX = Path(__file__).resolve().parents[2] / "chaosthundra" / "sandbox"
# The one module that imports moto (server gets moto's WSGI application through it).
IMPORTERS = {"moto_state.py"}
MOTO = version("moto")


def _static(name: str) -> Any:
    """``module:Name.attr`` imported and looked up (AttributeError/ImportError if gone)."""
    module, _, path = name.partition(":")
    found: Any = importlib.import_module(module)
    for part in path.split("."):
        found = getattr(found, part)
    return found


class Unavailable(str):
    """Why no live object of a class could be had."""


def _live_objects(sandbox: Sandbox) -> dict[str, Any]:
    """``{class name: a live instance}``, or the error that kept us from one."""
    lam = make_client(sandbox, "lambda", read_timeout=30)
    account = make_client(sandbox, "sts").get_caller_identity()["Account"]
    files = {"app.py": "def handler(e, c):\n    return 1\n"}
    name = create_function(sandbox.configuration(), "internals", files)
    published = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="$LATEST",
        RoutingConfig={"AdditionalVersionWeights": {published: 0.5}},
    )
    make_client(sandbox, "logs").create_log_group(logGroupName=f"/internals/{name}")

    def lambda_backend() -> Any:
        return _static("moto.awslambda.models:lambda_backends")[account][sandbox.region]

    def logs_backend() -> Any:
        return _static("moto.logs.models:logs_backends")[account][sandbox.region]

    def client_error() -> Any:
        try:
            lambda_backend().get_function(f"{name}-missing")
        except Exception as error:
            return error
        raise AssertionError("moto found a function that does not exist")

    makers = {
        "LambdaBackend": lambda_backend,
        "LambdaStorage": lambda: lambda_backend()._lambdas,
        "LambdaFunction": lambda: lambda_backend().get_function(name, published),
        "LambdaAlias": lambda: lambda_backend().get_alias("live", name),
        "LambdaClientError": client_error,
        "LogsBackend": logs_backend,
        "LogGroup": lambda: logs_backend().groups[f"/internals/{name}"],
    }
    objects: dict[str, Any] = {}
    for cls, make in makers.items():
        try:
            objects[cls] = make()
        except Exception as error:
            objects[cls] = Unavailable(f"no live {cls}: {type(error).__name__}: {error}")
    return objects


@pytest.fixture(scope="module")
def live(sandbox: Sandbox) -> dict[str, Any]:
    return _live_objects(sandbox)


STATIC = sorted(n for n in MOTO_INTERNALS if "()" not in n)
ON_INSTANCES = sorted(n for n in MOTO_INTERNALS if "()" in n)


@pytest.mark.parametrize("name", STATIC)
def test_moto_has(name: str) -> None:
    try:
        _static(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(
            f"moto {MOTO} has no {name} ({error}); the sandbox needs it: {MOTO_INTERNALS[name]}"
        )


@pytest.mark.parametrize("name", ON_INSTANCES)
def test_moto_objects_have(name: str, live: dict[str, Any]) -> None:
    module, _, path = name.partition(":")
    cls, _, attribute = path.partition("().")
    instance = live[cls]
    why = MOTO_INTERNALS[name]
    if isinstance(instance, Unavailable):
        pytest.fail(f"moto {MOTO}: {instance}; so {name} cannot be checked ({why})")
    expected = _static(f"{module}:{cls}")
    assert isinstance(instance, expected), f"moto {MOTO}: {cls} is now {type(instance)!r}"
    assert hasattr(instance, attribute), (
        f"moto {MOTO}: {module}.{cls} objects have no {attribute!r}; the sandbox needs it: {why}"
    )


def test_only_moto_state_and_server_import_moto_and_each_import_is_listed() -> None:
    """The door: a sandbox module importing moto elsewhere, or a moto import that
    ``MOTO_INTERNALS`` does not list, fails here by name."""
    outside, unlisted = [], []
    for path in sorted(SANDBOX.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = [(alias.name, "") for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported = [(node.module, alias.name) for alias in node.names]
            else:
                continue
            for module, name in imported:
                if module.split(".")[0] != "moto":
                    continue
                if path.name not in IMPORTERS:
                    outside.append(f"{path.name}: {module} {name}")
                elif not any(
                    key.startswith((f"{module}:{name}", f"{module}.{name}:"))
                    for key in MOTO_INTERNALS
                ):
                    unlisted.append(f"{path.name}: from {module} import {name}")
    assert not outside, f"moto imported outside moto_state: {outside}"
    assert not unlisted, f"moto imports missing from MOTO_INTERNALS: {unlisted}"


def _used_in_moto_state() -> dict[str, set[str]]:
    """``{function or class of moto_state: every name, attribute and string in it}``."""
    tree = ast.parse((SANDBOX / "moto_state.py").read_text())
    used: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            used[node.name] = {
                getattr(sub, "attr", None) or getattr(sub, "id", None) or getattr(sub, "value", "")
                for sub in ast.walk(node)
                if isinstance(sub, (ast.Attribute, ast.Name, ast.Constant))
            }
    return used


def test_each_internal_is_used_where_its_entry_says() -> None:
    """The brackets that end each reason in ``MOTO_INTERNALS`` name the functions of
    moto_state that use the name (``__all__``: moto_state hands it on as it is)."""
    import chaosthundra.sandbox.moto_state as moto_state

    used = _used_in_moto_state()
    wrong = []
    for name, why in MOTO_INTERNALS.items():
        last = name.replace("()", "").rpartition(":")[2].rpartition(".")[2]
        where = why.rpartition("[")[2].rstrip("]").split(", ") if why.endswith("]") else []
        if not where:
            wrong.append(f"{name}: no [where] at the end of its reason")
        for function in where:
            if function == "__all__":
                found = last in moto_state.__all__
            else:
                found = last in used.get(function, set())
            if not found:
                wrong.append(f"{name}: moto_state's {function} does not use {last!r}")
    assert not wrong, "MOTO_INTERNALS says a name is used where it is not:\n" + "\n".join(wrong)
