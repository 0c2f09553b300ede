"""Clients are keyed by who they are: a change of credentials takes effect on the next call.

A loopback proxy in front of the moto server records the access key of every
request; moto puts a request in the account its access key belongs to (keys from
an assumed role belong to the role's account).
"""

from __future__ import annotations

import json
import uuid
from typing import Iterator

import boto3
import pytest

from chaosthundra import actions, aws, probes
from chaosthundra.controls import safeguard
from chaosthundra.safety import ledger
from tests.core.conftest import REGION, _zip
from tests.core.recording_proxy import RecordingProxy

FIRST_ACCOUNT, SECOND_ACCOUNT = "123456789012", "111122223333"
FOREIGN = "THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG_OWNER"
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture
def proxy(moto_endpoint) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(moto_endpoint).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """An environment with no credentials in it, and no credential files."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.delenv("CHAOSTHUNDRA_SANDBOX_URL", raising=False)


def _use(monkeypatch, credentials: dict) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if name in credentials:
            monkeypatch.setenv(name, credentials[name])
        else:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def two_accounts(moto_endpoint) -> tuple[dict, dict]:
    """Environment credentials for two accounts of the moto server."""
    first = {"AWS_ACCESS_KEY_ID": "AKIAFIRSTACCOUNT0001", "AWS_SECRET_ACCESS_KEY": "first"}
    sts = boto3.client(
        "sts",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=first["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=first["AWS_SECRET_ACCESS_KEY"],
    )
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{SECOND_ACCOUNT}:role/chaos", RoleSessionName="second"
    )["Credentials"]
    second = {
        "AWS_ACCESS_KEY_ID": assumed["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": assumed["SecretAccessKey"],
        "AWS_SESSION_TOKEN": assumed["SessionToken"],
    }
    return first, second


def _function_in(moto_endpoint: str, credentials: dict, name: str, owner: str) -> None:
    """Create `name` in the credentials' account; a foreign listener variable names it."""
    session = boto3.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        region_name=REGION,
    )
    role = session.client("iam", endpoint_url=moto_endpoint).create_role(
        RoleName=f"identity-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    session.client("lambda", endpoint_url=moto_endpoint).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="thundra.handler.wrapper",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {FOREIGN: json.dumps({"type": "X", "config": {"owner": owner}})}},
    )


def _owner(name: str, configuration: dict) -> str:
    (foreign,) = [
        i for i in probes.list_injections(name, configuration=configuration) if not i["ours"]
    ]
    return foreign["config"]["config"]["owner"]


def _ours(name: str, configuration: dict) -> list:
    return [
        i["name"] for i in probes.list_injections(name, configuration=configuration) if i["ours"]
    ]


def test_a_change_of_environment_credentials_reaches_the_other_account(
    monkeypatch, no_credentials, moto_endpoint, proxy, two_accounts
):
    first, second = two_accounts
    name = f"twin-{uuid.uuid4().hex[:8]}"
    _function_in(moto_endpoint, first, name, FIRST_ACCOUNT)
    _function_in(moto_endpoint, second, name, SECOND_ACCOUNT)
    configuration = {"aws_endpoint_url": proxy.url, "aws_region": REGION}

    for credentials, account in (
        (first, FIRST_ACCOUNT),
        (second, SECOND_ACCOUNT),
        (first, FIRST_ACCOUNT),
    ):
        _use(monkeypatch, credentials)
        assert _owner(name, configuration) == account
        assert proxy.access_keys()[-1] == credentials["AWS_ACCESS_KEY_ID"]


def test_the_ledger_keeps_one_entry_per_account_and_sweeps_each_in_its_own(
    monkeypatch, no_credentials, moto_endpoint, proxy, two_accounts, caplog
):
    first, second = two_accounts
    name = f"twin-{uuid.uuid4().hex[:8]}"
    _function_in(moto_endpoint, first, name, FIRST_ACCOUNT)
    _function_in(moto_endpoint, second, name, SECOND_ACCOUNT)
    configuration = {"aws_endpoint_url": proxy.url, "aws_region": REGION}
    safeguard.configure_control(configuration=configuration)
    for credentials in (first, second):
        _use(monkeypatch, credentials)
        actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert sorted(e.account for e in ledger.active()) == [SECOND_ACCOUNT, FIRST_ACCOUNT]

    # the environment now reaches the second account: the first's entry is not touched there
    assert [r["state"] for r in safeguard.sweep()] == ["enabled"]
    assert [e.account for e in ledger.active()] == [FIRST_ACCOUNT]
    assert f"not account {FIRST_ACCOUNT}" in caplog.text
    assert _ours(name, configuration) == []
    _use(monkeypatch, first)
    assert _ours(name, configuration) == ["error"]
    safeguard.sweep()
    assert ledger.active() == []
    assert _ours(name, configuration) == []
    assert _owner(name, configuration) == FIRST_ACCOUNT


def test_a_change_of_profile_takes_effect_on_the_next_call(
    monkeypatch, no_credentials, tmp_path, proxy, make_function
):
    name = make_function()
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[alpha]\naws_access_key_id = AKIAALPHAPROFILE0001\naws_secret_access_key = a\n"
        "[beta]\naws_access_key_id = AKIABETAPROFILE00001\naws_secret_access_key = b\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    configuration = {"aws_endpoint_url": proxy.url, "aws_region": REGION}
    for profile, key in (("alpha", "AKIAALPHAPROFILE0001"), ("beta", "AKIABETAPROFILE00001")):
        monkeypatch.setenv("AWS_PROFILE", profile)
        probes.list_injections(name, configuration=configuration)
        assert proxy.access_keys()[-1] == key


@pytest.mark.parametrize("marked_by", ["configuration", "CHAOSTHUNDRA_SANDBOX_URL"])
def test_the_sandbox_only_ever_gets_its_dummy_credentials(
    monkeypatch, proxy, make_function, marked_by
):
    name = make_function()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTCREDENTIAL01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    configuration = {"aws_endpoint_url": proxy.url, "aws_region": REGION}
    if marked_by == "configuration":
        configuration["chaosthundra_sandbox"] = True
    else:
        monkeypatch.setenv("CHAOSTHUNDRA_SANDBOX_URL", proxy.url)
    secrets = {"aws_access_key_id": "AKIACONFIGUREDSECRET", "aws_secret_access_key": "secret"}
    actions.enable_error_injection(
        name, class_name="Redis", configuration=configuration, secrets=secrets
    )
    probes.list_injections(name, configuration=configuration, secrets=secrets)
    actions.remove_all_injections(name, configuration=configuration, secrets=secrets)
    keys = set(proxy.access_keys())
    assert keys == {aws.SANDBOX_CREDENTIALS["aws_access_key_id"]}
