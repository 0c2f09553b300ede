"""`chaosthundra clear` after a SIGKILLed canary and a redeploy routes only what was deployed.

The real `chaos` CLI enables a 20% fault on alias `live` and is killed with
SIGKILL; a deploy then publishes a new version and points the alias at it
without touching its RoutingConfig (as deploy tools do), so the chaos version
keeps its 20%. `clear` must take the chaos version out and put nothing back.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from chaosthundra.targets.routing import Routing
from tests.e2e.conftest import BIN, SAFEGUARD, chaosthundra_clear, sandbox_experiment

ENABLED = "on alias 'live' of Lambda function"


@pytest.fixture
def live(layered) -> str:
    return layered("redeploy")


def _experiment(tmp_path: Path, sandbox, function: str, controls: tuple = ()) -> Path:
    canary = {
        "type": "action",
        "name": "canary",
        "provider": {
            "type": "python",
            "module": "chaosthundra.actions",
            "func": "enable_error_injection",
            "arguments": {
                "function_name": function,
                "class_name": "Redis",
                "qualifier": "live",
                "traffic_percentage": 20,
            },
        },
        "pauses": {"after": 120},
    }
    return sandbox_experiment(
        tmp_path / "canary.json", sandbox, "A canary and a deploy meanwhile", [canary], controls
    )


def _deploy(lam, function: str) -> str:
    lam.update_function_configuration(FunctionName=function, Timeout=9)
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)
    new = lam.publish_version(FunctionName=function)["Version"]
    lam.update_alias(FunctionName=function, Name="live", FunctionVersion=new)
    return new


@pytest.mark.e2e
def test_sigkill_redeploy_then_clear_routes_only_the_deployed_version(
    tmp_path, sandbox, lam, live, run_chaos
):
    run = run_chaos(_experiment(tmp_path, sandbox, live))
    run.wait_for_log(ENABLED)
    run.signal(signal.SIGKILL)
    run.wait(timeout=30)
    chaos = next(v for v in Routing.of(lam.get_alias(FunctionName=live, Name="live")).weights)
    new = _deploy(lam, live)
    assert Routing.of(lam.get_alias(FunctionName=live, Name="live")) == Routing(new, {chaos: 0.2})
    status = subprocess.run(
        [str(BIN / "chaosthundra"), "status", "--function", live]
        + ["--sandbox-url", sandbox.endpoint_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "moved by a deploy since the fault: clear only takes this version out" in (
        status.stdout
    ), status.stdout

    cleared = chaosthundra_clear(sandbox, live)

    assert Routing.of(lam.get_alias(FunctionName=live, Name="live")) == Routing(new, {})
    versions = lam.list_versions_by_function(FunctionName=live)["Versions"]
    assert sorted(v["Version"] for v in versions) == sorted(["$LATEST", "1", new])
    assert "routed as before" not in cleared.stdout
    assert (
        f"alias live moved since the fault (it routed version {new} 80%, version {chaos} 20%, "
        f"the fault left version 1 80%, version {chaos} 20%): took chaos version {chaos} out "
        f"and put nothing back, it routes version {new} 100%, chaos versions {chaos} deleted"
    ) in cleared.stdout, cleared.stdout


@pytest.mark.e2e
def test_a_deploy_during_the_run_then_sigterm_the_safeguard_removes_only_the_fault(
    tmp_path, sandbox, lam, live, run_chaos
):
    run = run_chaos(_experiment(tmp_path, sandbox, live, (SAFEGUARD,)))
    run.wait_for_log(ENABLED)
    chaos = next(v for v in Routing.of(lam.get_alias(FunctionName=live, Name="live")).weights)
    new = _deploy(lam, live)
    run.signal(signal.SIGTERM)
    run.wait(timeout=60)

    assert Routing.of(lam.get_alias(FunctionName=live, Name="live")) == Routing(new, {})
    versions = lam.list_versions_by_function(FunctionName=live)["Versions"]
    assert sorted(v["Version"] for v in versions) == sorted(["$LATEST", "1", new])
    (removed,) = run.journal["chaosthundra"]["safeguard_removed"]
    assert removed["alias_moved"] == {
        "alias": "live",
        "chaos_version": chaos,
        "found": f"version {new} 80%, version {chaos} 20%",
        "fault_set": f"version 1 80%, version {chaos} 20%",
        "now": f"version {new} 100%",
    }
    assert "moved since the fault" in run.log_path.read_text()
