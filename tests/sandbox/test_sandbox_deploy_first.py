"""``deploy_first``: the functions an experiment names are deployed before the run, the
template's others during it, and no request can tell (chaosthundra.sandbox.gate)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sbx_helpers import make_client

from chaosthundra.controls.sandbox import named_in
from chaosthundra.sandbox import Sandbox, SandboxError
from chaosthundra.sandbox.gate import function_named

REPO = Path(__file__).resolve().parents[2]


def _template(tmp_path: Path, prefix: str, bad_variable: str = "") -> Path:
    """Functions <prefix>-a (whose variable names <prefix>-c), <prefix>-b and <prefix>-c."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "import os\n\ndef handler(event, context):\n    return os.environ['PEER']\n"
    )
    functions = {"a": f"{prefix}-c", "b": "none", "c": "none"}
    resources = {
        key: {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "FunctionName": f"{prefix}-{key}",
                "CodeUri": "src/",
                "Handler": "app.handler",
                "Runtime": "python3.11",
                "Environment": {
                    "Variables": {"PEER": peer, **({bad_variable: "x"} if key == "b" else {})}
                    if bad_variable
                    else {"PEER": peer}
                },
            },
        }
        for key, peer in functions.items()
    }
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps({"Resources": resources}))
    return path


def _names(client: Any, prefix: str) -> list[str]:
    listed = client.list_functions()["Functions"]
    return sorted(f["FunctionName"] for f in listed if f["FunctionName"].startswith(prefix))


def test_the_named_functions_are_deployed_first_and_requests_wait_for_the_others(
    slow_updates: Sandbox, tmp_path: Path
) -> None:
    # Each function stays Pending for 1 s, so waiting for one shows in the answer's state.
    sandbox = slow_updates
    client = make_client(sandbox, "lambda", read_timeout=60)
    deployment = sandbox.deploy(_template(tmp_path, "sbx-first"), first={"sbx-first-a"})

    # a, and c whose name is the value of a's variable, came before the return; what
    # names them needs nothing more, and the rest waits for a request that needs it.
    assert deployment.functions == ["sbx-first-a", "sbx-first-c"]
    # Both were created before either was Active (each is Pending for the whole delay).
    created = [  # "2026-11-27T06:18:09.134...", to the millisecond
        datetime.fromisoformat(
            client.get_function_configuration(FunctionName=name)["LastModified"][:23]
        )
        for name in deployment.functions
    ]
    assert abs(created[1] - created[0]) < timedelta(milliseconds=sandbox.update_delay_ms)
    answer = client.invoke(FunctionName="sbx-first-a")
    assert json.loads(answer["Payload"].read()) == "sbx-first-c"
    client.get_function_configuration(FunctionName="sbx-first-c")
    assert sandbox.deploying
    assert deployment.functions == ["sbx-first-a", "sbx-first-c"]

    # Naming b waits for b; naming no function waits for the whole deployment.
    assert client.get_function(FunctionName="sbx-first-b")["Configuration"]["State"] == "Active"
    assert _names(client, "sbx-first-") == ["sbx-first-a", "sbx-first-b", "sbx-first-c"]
    assert not sandbox.deploying
    sandbox.wait_deployed()
    assert sorted(deployment.functions) == ["sbx-first-a", "sbx-first-b", "sbx-first-c"]


def test_wait_deployed_deploys_what_no_request_asked_for(tmp_path: Path) -> None:
    with Sandbox(template=_template(tmp_path, "sbx-wait"), deploy_first={"sbx-wait-b"}) as sandbox:
        assert sandbox.deploying
        sandbox.wait_deployed()
        assert not sandbox.deploying
        assert sorted(sandbox.deployments[0].functions) == [
            "sbx-wait-a",
            "sbx-wait-b",
            "sbx-wait-c",
        ]


def test_a_function_that_cannot_be_deployed_later_fails_what_waits_for_it(
    tmp_path: Path,
) -> None:
    # b carries a reserved variable: Lambda refuses it, only once the run has begun.
    with Sandbox(
        template=_template(tmp_path, "sbx-later", bad_variable="AWS_REGION"),
        deploy_first={"sbx-later-a"},
    ) as sandbox:
        client = make_client(sandbox, "lambda", retries={"max_attempts": 1})
        assert json.loads(client.invoke(FunctionName="sbx-later-a")["Payload"].read()) == (
            "sbx-later-c"
        )
        with pytest.raises(
            client.exceptions.ServiceException, match="could not deploy sbx-later-b"
        ):
            client.invoke(FunctionName="sbx-later-b")
        with pytest.raises(client.exceptions.ServiceException, match="reserved keys"):
            client.list_functions()
        with pytest.raises(SandboxError, match="sbx-later-b.*AWS_REGION"):
            sandbox.wait_deployed()
        # What was deployed still answers.
        assert client.get_function(FunctionName="sbx-later-c")["Configuration"]["State"] == (
            "Active"
        )


def test_stopping_during_the_deployment_ends_it(tmp_path: Path) -> None:
    sandbox = Sandbox(
        template=_template(tmp_path, "sbx-stop"), deploy_first={"sbx-stop-a"}, update_delay_ms=1000
    )
    before = set(threading.enumerate())
    sandbox.start()
    assert sandbox.deploying
    sandbox.stop()
    assert not sandbox.deploying
    assert not [t for t in set(threading.enumerate()) - before if "sandbox" in t.name]


def test_the_control_deploys_first_what_the_experiment_names() -> None:
    experiment = json.loads((REPO / "experiments" / "redis-failure.json").read_text())
    configuration = {"function_name": "user-get", "user_id": "1"}
    named = named_in(experiment, configuration, None)
    assert "user-get" in named
    assert "user-get-naive" not in named  # only in the experiment's default configuration
    arn = "arn:aws:lambda:us-east-1:123456789012:function:user-get-catchpoint:live"
    assert "user-get-catchpoint" in named_in({"method": [{"arguments": {"f": arn}}]}, {}, None)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/2015-03-31/functions/fn/invocations", "fn"),
        ("/2015-03-31/functions/fn%3Alive/configuration", "fn"),
        ("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn/aliases", "fn"),
        ("/2015-03-31/functions/123456789012%3Afunction%3Afn%3A3", "fn"),
        ("/2015-03-31/functions/", None),
        ("/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn", None),
        ("/", None),
    ],
)
def test_the_function_a_request_names(path: str, name: str) -> None:
    assert function_named(path) == name


def test_under_the_control_a_run_sees_the_whole_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosthundra.controls import sandbox as control

    monkeypatch.delenv("CHAOSTHUNDRA_TARGET", raising=False)
    monkeypatch.delenv("CHAOSTHUNDRA_SANDBOX_URL", raising=False)
    experiment = {
        "method": [
            {
                "type": "probe",
                "name": "invoke",
                "provider": {
                    "type": "python",
                    "module": "chaosthundra.probes",
                    "func": "invoke_function",
                    "arguments": {"function_name": "${function_name}"},
                },
            }
        ]
    }
    configuration: dict[str, Any] = {"function_name": "sbx-ctl-b"}
    control.configure_control(
        configuration=configuration,
        experiment=experiment,
        template=str(_template(tmp_path, "sbx-ctl")),
    )
    try:
        box = control.current()
        assert box is not None
        assert box.deployments[0].functions == ["sbx-ctl-b"]
        client = make_client(box, "lambda", read_timeout=60)
        assert _names(client, "sbx-ctl-") == ["sbx-ctl-a", "sbx-ctl-b", "sbx-ctl-c"]
        assert not box.deploying
    finally:
        control.cleanup_control()
