"""The sandbox's Lambda control plane answers as AWS does (DESIGN.md, "The Lambda
behaviour the sandbox must reproduce"): RevisionIds, update states, limits,
versions and aliases, Code.Location. Each test asserts AWS's shape through boto3
or the real AWS CLI. The runtime answers are in test_aws_conformance_runtime.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from botocore.exceptions import ClientError
from sbx_helpers import FIXTURES, aws_cli_run, invoke, make_client

from chaosthundra.sandbox import Sandbox, SandboxError
from chaosthundra.sandbox.core import UPDATE_DELAY_ENV, resolve_update_delay_ms
from chaosthundra.sandbox.moto_state import alias_routing

STALE = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
IN_PROGRESS = (
    "The operation cannot be performed at this time. An update is in progress for resource: {}"
)
PENDING = (
    "The operation cannot be performed at this time. "
    "The function is currently in the following state: Pending"
)
HANDLER = (
    "import os\n\n"
    "def handler(event, context):\n"
    "    return {'tag': '%s', 'mode': os.environ.get('MODE')}\n"
)


def package(tag: str = "v1") -> bytes:
    """A deployment package; the same ``tag`` gives the same bytes (and CodeSha256)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("app.py", (1980, 1, 1, 0, 0, 0)), HANDLER % tag)
    return buffer.getvalue()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[int, str, str]:
    response = excinfo.value.response
    error = response["Error"]
    return response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


@pytest.fixture(scope="module")
def lam(sandbox: Sandbox) -> Any:
    return make_client(sandbox, "lambda", read_timeout=30)


@pytest.fixture(scope="module")
def role(sandbox: Sandbox) -> str:
    iam = make_client(sandbox, "iam")
    name = "sbx-conformance"
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture
def create(lam: Any, role: str) -> Callable[..., str]:
    """Create a function with a unique name and wait until it is Active."""

    def make(variables: Optional[dict] = None, wait: bool = True, **extra: Any) -> str:
        name = f"conf-{uuid.uuid4().hex[:10]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": package()},
            Environment={"Variables": variables if variables is not None else {"MODE": "one"}},
            **extra,
        )
        if wait:
            lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        return name

    return make


@pytest.fixture
def created(create: Callable[..., str]) -> str:
    """A new Active function. List it before ``slow_updates``: it is created while
    updates are instant (only the Pending test waits for a creation)."""
    return create()


def wait_updated(lam: Any, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


# --- LastModified ---------------------------------------------------------------------

LAMBDA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000"


def test_last_modified_has_lambdas_form_and_each_update_sets_it(lam, create) -> None:
    name = create()
    created = lam.get_function_configuration(FunctionName=name)["LastModified"]
    answers = [created, lam.get_function(FunctionName=name)["Configuration"]["LastModified"]]
    answers += [
        f["LastModified"] for f in lam.list_functions()["Functions"] if f["FunctionName"] == name
    ]
    updated = lam.update_function_configuration(FunctionName=name, Description="changed")
    answers.append(updated["LastModified"])
    wait_updated(lam, name)
    assert (
        lam.get_function_configuration(FunctionName=name)["LastModified"] == updated["LastModified"]
    )
    code = lam.update_function_code(FunctionName=name, ZipFile=package("v2"))
    answers.append(code["LastModified"])
    answers.append(lam.publish_version(FunctionName=name)["LastModified"])
    assert all(re.fullmatch(LAMBDA_TIME, answer) for answer in answers), answers
    # Same form, so the strings order as the times do: each update moved it on.
    assert created < updated["LastModified"] < code["LastModified"]


# --- RevisionId -----------------------------------------------------------------------


def test_revision_id_is_new_on_every_change_and_every_state_transition(lam, create) -> None:
    name = create(wait=False)
    seen = []
    config = lam.get_function_configuration(FunctionName=name)  # Pending -> Active
    assert config["State"] == "Active"
    seen.append(config["RevisionId"])
    assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == seen[-1]
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert listed[0]["RevisionId"] == seen[-1]

    updated = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MODE": "two"}}, RevisionId=seen[-1]
    )
    seen.append(updated["RevisionId"])
    seen.append(lam.get_function_configuration(FunctionName=name)["RevisionId"])  # Successful
    code = lam.update_function_code(FunctionName=name, ZipFile=package("v2"))
    seen.append(code["RevisionId"])
    seen.append(lam.get_function_configuration(FunctionName=name)["RevisionId"])
    assert len(set(seen)) == len(seen)
    # A read that is not a transition keeps it.
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == seen[-1]


@pytest.mark.parametrize("operation", ["configuration", "code", "publish"])
def test_a_write_with_a_stale_revision_id_is_412(lam, create, operation: str) -> None:
    name = create()
    stale = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "x"}})
    wait_updated(lam, name)
    before = lam.get_function_configuration(FunctionName=name)
    calls = {
        "configuration": lambda: lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"MODE": "y"}}, RevisionId=stale
        ),
        "code": lambda: lam.update_function_code(
            FunctionName=name, ZipFile=package("v9"), RevisionId=stale
        ),
        "publish": lambda: lam.publish_version(FunctionName=name, RevisionId=stale),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[operation]()
    assert error_of(excinfo) == (412, "PreconditionFailedException", STALE)
    after = lam.get_function_configuration(FunctionName=name)
    after.pop("ResponseMetadata"), before.pop("ResponseMetadata")
    assert after == before
    assert lam.list_versions_by_function(FunctionName=name)["Versions"][1:] == []


def test_aliases_have_revision_ids_and_update_alias_checks_them(lam, create) -> None:
    name = create()
    version = lam.publish_version(FunctionName=name)
    assert version["Version"] == "1" and version["RevisionId"]
    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert created["RevisionId"]
    got = lam.get_alias(FunctionName=name, Name="live")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["RevisionId"] == created["RevisionId"]
    updated = lam.update_alias(
        FunctionName=name, Name="live", Description="now", RevisionId=created["RevisionId"]
    )
    assert updated["RevisionId"] != created["RevisionId"]
    assert lam.list_aliases(FunctionName=name)["Aliases"][0]["RevisionId"] == updated["RevisionId"]
    with pytest.raises(ClientError) as excinfo:
        lam.update_alias(
            FunctionName=name, Name="live", Description="lost", RevisionId=created["RevisionId"]
        )
    assert error_of(excinfo) == (412, "PreconditionFailedException", STALE)
    assert lam.get_alias(FunctionName=name, Name="live")["Description"] == "now"
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert versions[1]["RevisionId"] == version["RevisionId"]
    assert (
        lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["RevisionId"]
        == (version["RevisionId"])
    )


# --- update states --------------------------------------------------------------------


def test_an_update_is_in_progress_then_successful_and_conflicts_meanwhile(
    created, slow_updates, lam
) -> None:
    name = created
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    answer = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MODE": "two"}}
    )
    assert answer["LastUpdateStatus"] == "InProgress"
    assert answer["LastUpdateStatusReason"] == "The function is being created."
    assert answer["LastUpdateStatusReasonCode"] == "Creating"
    config = lam.get_function(FunctionName=name)["Configuration"]
    assert config["LastUpdateStatus"] == "InProgress"
    assert config["Environment"]["Variables"] == {"MODE": "two"}
    for again in (
        lambda: lam.update_function_configuration(FunctionName=name, Timeout=9),
        lambda: lam.update_function_code(FunctionName=name, ZipFile=package("v2")),
        lambda: lam.publish_version(FunctionName=name),
    ):
        with pytest.raises(ClientError) as excinfo:
            again()
        assert error_of(excinfo) == (409, "ResourceConflictException", IN_PROGRESS.format(arn))
    wait_updated(lam, name)
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in config
    assert config["Timeout"] == 3  # the refused update changed nothing


def test_a_new_function_is_pending_then_active(slow_updates, lam, create) -> None:
    name = create(wait=False)
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["State"], config["StateReason"], config["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(excinfo) == (409, "ResourceConflictException", PENDING)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Timeout=9)
    assert error_of(excinfo) == (409, "ResourceConflictException", PENDING)
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    config = lam.get_function_configuration(FunctionName=name)
    assert config["State"] == "Active" and "StateReason" not in config
    assert invoke(lam, name)["payload"] == {"tag": "v1", "mode": "one"}


def test_new_environments_see_an_update_only_once_it_is_successful(
    created, slow_updates, lam
) -> None:
    name = created
    assert invoke(lam, name)["payload"] == {"tag": "v1", "mode": "one"}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "two"}})
    during = invoke(lam, name)
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "InProgress"
    assert during["payload"] == {"tag": "v1", "mode": "one"}
    wait_updated(lam, name)
    assert invoke(lam, name)["payload"] == {"tag": "v1", "mode": "two"}
    lam.update_function_code(FunctionName=name, ZipFile=package("v2"))
    assert invoke(lam, name)["payload"]["tag"] == "v1"
    wait_updated(lam, name)
    assert invoke(lam, name)["payload"] == {"tag": "v2", "mode": "two"}


# --- limits ---------------------------------------------------------------------------


def _sized(total: int) -> dict[str, str]:
    """A map whose compact JSON is exactly ``total`` UTF-8 bytes (with a 2-byte char)."""
    base = {"PAD": "é"}
    used = len(json.dumps(base, separators=(",", ":"), ensure_ascii=False).encode())
    return {"PAD": "é" + "p" * (total - used)}


def test_environment_over_4kb_is_refused_as_lambda_measures_it(lam, create) -> None:
    name = create()
    fits, over = _sized(4096), _sized(4097)
    assert len(json.dumps(fits, separators=(",", ":"), ensure_ascii=False).encode()) == 4096
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": fits})
    wait_updated(lam, name)
    before = lam.get_function_configuration(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": over})
    measured = json.dumps(over, separators=(",", ":"), ensure_ascii=False)
    assert error_of(excinfo) == (
        400,
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: " + measured,
    )
    after = lam.get_function_configuration(FunctionName=name)
    assert after["Environment"] == before["Environment"] == {"Variables": fits}
    assert after["RevisionId"] == before["RevisionId"]
    with pytest.raises(ClientError) as excinfo:
        create(variables=over)
    assert error_of(excinfo)[:2] == (400, "InvalidParameterValueException")


@pytest.mark.parametrize("key", ["A", "1ABC", "MY-VAR", "_PRIVATE", "a.b"])
def test_environment_keys_outside_the_pattern_are_refused(lam, create, key: str) -> None:
    name = create()
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {key: "1"}})
    assert error_of(excinfo) == (
        400,
        "ValidationException",
        "1 validation error detected: Value at 'environment.variables' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must satisfy regular expression "
        "pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
    )
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {
        "Variables": {"MODE": "one"}
    }


def test_reserved_environment_keys_are_refused(lam, create) -> None:
    name = create()
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(
            FunctionName=name,
            Environment={"Variables": {"AWS_ACCESS_KEY_ID": "a", "MODE": "x", "AWS_REGION": "b"}},
        )
    assert error_of(excinfo) == (
        400,
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: AWS_ACCESS_KEY_ID, AWS_REGION",
    )
    with pytest.raises(ClientError) as excinfo:
        create(variables={"AWS_LAMBDA_FUNCTION_NAME": "other"})
    assert error_of(excinfo)[:2] == (400, "InvalidParameterValueException")
    # Not reserved: AWS_LAMBDA_EXEC_WRAPPER, LANG, PATH-like keys are settable.
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/w", "LANG": "C"}}
    )


# --- versions and aliases -------------------------------------------------------------


def test_publish_version_snapshots_latest_code_and_configuration(lam, create) -> None:
    name = create()
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert (v1["Version"], v1["State"], v1["LastUpdateStatus"]) == ("1", "Active", "Successful")
    assert v1["FunctionArn"].endswith(f":{name}:1")
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MODE": "two"}}, Timeout=5
    )
    wait_updated(lam, name)
    lam.update_function_code(FunctionName=name, ZipFile=package("v2"))
    wait_updated(lam, name)
    v1_now = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert v1_now["Environment"] == {"Variables": {"MODE": "one"}}
    assert v1_now["CodeSha256"] == sha256_b64(package()) == v1["CodeSha256"]
    assert v1_now["Timeout"] == 3
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2"
    assert v2["Environment"] == {"Variables": {"MODE": "two"}}
    assert v2["CodeSha256"] == sha256_b64(package("v2"))
    assert invoke(lam, name, Qualifier="1")["payload"] == {"tag": "v1", "mode": "one"}
    assert invoke(lam, name, Qualifier="2")["payload"] == {"tag": "v2", "mode": "two"}


def publish_two_versions(lam: Any, name: str) -> None:
    """Version 1 with MODE=one, version 2 with MODE=b."""
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "b"}})
    wait_updated(lam, name)
    lam.publish_version(FunctionName=name)


def test_alias_routing_config_is_stored_returned_and_readable(sandbox, lam, create) -> None:
    name = create()
    publish_two_versions(lam, name)
    routing = {"AdditionalVersionWeights": {"2": 0.25}}
    alias = lam.create_alias(
        FunctionName=name, Name="live", FunctionVersion="1", RoutingConfig=routing
    )
    assert alias["RoutingConfig"] == routing
    assert alias["AliasArn"].endswith(f":function:{name}:live")
    assert lam.get_alias(FunctionName=name, Name="live")["RoutingConfig"] == routing
    account = alias["AliasArn"].split(":")[4]
    assert alias_routing(account, sandbox.region, name, "live") == ("1", {"2": 0.25})
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={})
    assert alias_routing(account, sandbox.region, name, "live") == ("2", {})


def test_delete_function_with_a_version_qualifier_deletes_only_that_version(lam, create) -> None:
    name = create()
    lam.publish_version(FunctionName=name)
    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName=name, Qualifier="1")
    assert error_of(excinfo)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as excinfo:
        lam.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_of(excinfo) == (
        400,
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
    )
    assert invoke(lam, name)["payload"] == {"tag": "v1", "mode": "one"}


def test_a_version_an_alias_routes_to_cannot_be_deleted(lam, create) -> None:
    name = create()
    publish_two_versions(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}},
    )
    with pytest.raises(ClientError) as excinfo:
        lam.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(excinfo) == (
        409,
        "ResourceConflictException",
        "Unable to delete version because the following aliases reference it: [canary, live]",
    )
    lam.delete_alias(FunctionName=name, Name="live")
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={})
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST",
        "2",
    ]


def test_auto_publish_alias_publishes_a_version_and_points_the_alias(
    sandbox, lam, tmp_path: Path
) -> None:
    prefix = f"apa-{uuid.uuid4().hex[:6]}"
    template = tmp_path / "template.yaml"
    template.write_text(
        f"""
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    AutoPublishAlias: live
    Runtime: python3.11
    CodeUri: {FIXTURES / "src"}
    Handler: echo.handler
    Environment: {{Variables: {{MODE: first}}}}
Resources:
  One:
    Type: AWS::Serverless::Function
    Properties: {{FunctionName: {prefix}-one}}
  Two:
    Type: AWS::Serverless::Function
    Properties: {{FunctionName: {prefix}-two, AutoPublishAlias: stable}}
"""
    )
    sandbox.deploy(template)
    one = lam.get_alias(FunctionName=f"{prefix}-one", Name="live")
    assert one["FunctionVersion"] == "1"
    assert lam.get_alias(FunctionName=f"{prefix}-two", Name="stable")["FunctionVersion"] == "1"
    version = lam.get_function_configuration(FunctionName=f"{prefix}-one", Qualifier="live")
    assert version["Version"] == "1" and version["Environment"] == {"Variables": {"MODE": "first"}}
    template.write_text(template.read_text().replace("MODE: first", "MODE: second"))
    sandbox.deploy(template)
    assert lam.get_alias(FunctionName=f"{prefix}-one", Name="live")["FunctionVersion"] == "2"
    latest = lam.get_function_configuration(FunctionName=f"{prefix}-one", Qualifier="live")
    assert latest["Environment"] == {"Variables": {"MODE": "second"}}


# --- Code.Location ----------------------------------------------------------------------


def test_get_function_code_location_downloads_the_package(lam, create) -> None:
    name = create()
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=package("v2"))
    wait_updated(lam, name)
    for qualifier, tag in ((None, "v2"), ("1", "v1")):
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        got = lam.get_function(FunctionName=name, **kwargs)
        assert got["Code"]["RepositoryType"] == "S3"
        location = got["Code"]["Location"]
        assert location.startswith(lam.meta.endpoint_url + "/")
        with urllib.request.urlopen(location, timeout=10) as response:
            data = response.read()
        assert data == package(tag)
        assert sha256_b64(data) == got["Configuration"]["CodeSha256"]


# --- configuration of the delay ---------------------------------------------------------


def test_update_delay_comes_from_the_argument_then_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(UPDATE_DELAY_ENV, "1500")
    assert resolve_update_delay_ms(None) == 1500
    assert resolve_update_delay_ms(20) == 20
    monkeypatch.delenv(UPDATE_DELAY_ENV)
    assert resolve_update_delay_ms(None) == 0
    monkeypatch.setenv(UPDATE_DELAY_ENV, "soon")
    with pytest.raises(SandboxError, match=f"{UPDATE_DELAY_ENV} must be a whole number"):
        resolve_update_delay_ms(None)
    with pytest.raises(SandboxError, match="update_delay_ms must be"):
        Sandbox(update_delay_ms=-5)


# --- the real AWS CLI ---------------------------------------------------------------------


def test_cli_stale_revision_id_is_a_precondition_failure(sandbox, lam, create, tmp_path) -> None:
    name = create()
    shown = aws_cli_run(
        sandbox, tmp_path, "lambda", "get-function-configuration", "--function-name", name
    )
    assert shown.returncode == 0, shown.stderr
    revision = json.loads(shown.stdout)["RevisionId"]
    lam.update_function_configuration(FunctionName=name, Timeout=4)
    done = aws_cli_run(
        sandbox, tmp_path, "lambda", "update-function-configuration", "--function-name", name,
        "--timeout", "5", "--revision-id", revision,
    )  # fmt: skip
    assert done.returncode != 0
    assert (
        "An error occurred (PreconditionFailedException) when calling the "
        f"UpdateFunctionConfiguration operation: {STALE}"
    ) in done.stderr
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 4


def test_cli_waits_for_an_update_with_function_updated_v2(
    created, slow_updates, lam, tmp_path
) -> None:
    name = created
    updated = aws_cli_run(
        slow_updates, tmp_path, "lambda", "update-function-configuration", "--function-name", name,
        "--environment", "Variables={MODE=cli}",
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["LastUpdateStatus"] == "InProgress"
    waited = aws_cli_run(
        slow_updates, tmp_path, "lambda", "wait", "function-updated-v2", "--function-name", name
    )
    assert waited.returncode == 0, waited.stderr
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LastUpdateStatus"] == "Successful"
    assert config["Environment"] == {"Variables": {"MODE": "cli"}}


def test_cli_environment_over_4kb_is_refused(sandbox, lam, create, tmp_path) -> None:
    name = create()
    over = _sized(4097)
    done = aws_cli_run(
        sandbox, tmp_path, "lambda", "update-function-configuration", "--function-name", name,
        "--environment", json.dumps({"Variables": over}),
    )  # fmt: skip
    assert done.returncode != 0
    assert "(InvalidParameterValueException)" in done.stderr
    assert "exceeded the 4KB limit. String measured: {" in done.stderr
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {
        "Variables": {"MODE": "one"}
    }


def test_cli_get_function_code_location_is_downloadable(sandbox, create, tmp_path) -> None:
    name = create()
    done = aws_cli_run(sandbox, tmp_path, "lambda", "get-function", "--function-name", name)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["Configuration"]["RevisionId"] and got["Configuration"]["State"] == "Active"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as response:
        assert response.read() == package()


def test_version_numbers_are_never_given_out_twice(lam, create) -> None:
    """Lambda numbers a version one above every number the function ever had; moto counts
    its versions, which would hand out 3 again below."""
    name = create()

    def publish(mode: str) -> str:
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"MODE": mode}}
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        return lam.publish_version(FunctionName=name, Description=mode)["Version"]

    assert [publish("a"), publish("b"), publish("c")] == ["1", "2", "3"]
    lam.delete_function(FunctionName=name, Qualifier="2")
    assert publish("d") == "4"
    lam.delete_function(FunctionName=name, Qualifier="4")
    assert publish("e") == "5"

    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [(v["Version"], v.get("Description")) for v in listed] == [
        ("$LATEST", listed[0].get("Description")),
        ("1", "a"),
        ("3", "c"),
        ("5", "e"),
    ]
    three = lam.get_function_configuration(FunctionName=name, Qualifier="3")
    assert three["Environment"]["Variables"] == {"MODE": "c"}
    assert three["FunctionArn"].endswith(f":{name}:3")
    five = lam.get_function_configuration(FunctionName=name, Qualifier="5")
    assert (five["Environment"]["Variables"], five["FunctionArn"][-2:]) == ({"MODE": "e"}, ":5")
