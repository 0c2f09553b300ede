"""Contention, for real: chaosthundra's read -> merge -> write against the sandbox's
Lambda control plane with 1 s updates (RevisionId, InProgress, 409, 412, 4 KB).

A foreign edit is timed to land between our read and our write by running it from
inside the merge step (``actions.fit_value`` or the ``merge`` given to
``latest.update``): Lambda's answers to it are the sandbox's own. Only the
last test fakes Lambda: a function kept busy forever is not something to wait for.
"""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions, listeners
from chaosthundra.engine import inject
from chaosthundra.probes import list_injections
from chaosthundra.targets import latest
from tests.core import on_sandbox

configuration, lam, role_arn = on_sandbox.configuration, on_sandbox.lam, on_sandbox.role_arn

KEEP = {"KEEP": "1"}
LAMBDA_4KB = (
    "InvalidParameterValueException: Lambda was unable to configure your environment "
    "variables because the environment variables you have provided exceeded the 4KB limit."
)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(latest, "RETRY_PAUSE_SECONDS", 0.01)


@pytest.fixture
def name(make_function) -> str:
    """A function holding KEEP. List it before ``slow_updates``: it is created while
    updates are instant (its 1 s Pending state is not what these tests wait for)."""
    return make_function(KEEP)


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="chaostoolkit")
    return caplog


def foreign_edit(lam, name: str, variables: dict, wait: bool):
    """Someone else's UpdateFunctionConfiguration, once; optionally waited out."""
    done = []

    def edit() -> None:
        if done:
            return
        done.append(True)
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        if wait:
            latest.wait_until_updated(lam, name)

    return edit


def during_merge(monkeypatch, edit) -> None:
    """Run ``edit`` when the enable action computes its merge (between read and write)."""
    real = inject.fit_value

    def fit_value(*args, **kwargs):
        edit()
        return real(*args, **kwargs)

    monkeypatch.setattr(inject, "fit_value", fit_value)


@pytest.mark.parametrize(
    "foreign_waits, answer",
    [
        (True, "PreconditionFailedException"),  # it landed: our RevisionId is stale
        (False, "ResourceConflictException"),  # it is still in progress
    ],
    ids=["412-re-merged", "409-retried"],
)
def test_a_foreign_edit_between_read_and_write_is_detected_and_kept(
    name, slow_updates, monkeypatch, log, lam, snap, configuration, foreign_waits, answer
):
    foreign = {**KEEP, "ADDED": "meanwhile"}
    during_merge(monkeypatch, foreign_edit(lam, name, foreign, wait=foreign_waits))
    result = actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert result["status"] == "enabled"
    assert f"{answer} on '{name}' (attempt 1/" in log.text
    variables = snap(name)["Environment"]["Variables"]
    assert {k: v for k, v in variables.items() if not listeners.is_ours(k)} == foreign
    assert [i["name"] for i in list_injections(name, configuration=configuration)] == ["error"]

    actions.disable_error_injection(name, configuration=configuration)
    assert snap(name)["Environment"]["Variables"] == foreign
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"


def test_enabling_while_an_update_is_in_progress_waits_then_succeeds(
    name, slow_updates, log, lam, snap, configuration
):
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"NEW": "x"}})
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "InProgress"
    result = actions.enable_latency_injection(
        name, delay=50, class_name="Redis", configuration=configuration
    )
    assert result["status"] == "enabled"
    assert "ResourceConflictException" not in log.text  # waited, not refused and retried
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LastUpdateStatus"] == "Successful"
    variables = config["Environment"]["Variables"]
    assert {k: v for k, v in variables.items() if not listeners.is_ours(k)} == {"NEW": "x"}
    assert [i["name"] for i in list_injections(name, configuration=configuration)] == ["latency"]


def test_function_env_update_sends_the_revision_id_it_read(name, slow_updates, lam, snap):
    calls = []

    def merge(env):
        calls.append(dict(env))
        if len(calls) == 1:
            foreign_edit(lam, name, {**KEEP, "OTHER": "2"}, wait=True)()
        return {**env, "OURS": "1"}

    change = latest.update(lam, name, merge)
    assert calls == [KEEP, {**KEEP, "OTHER": "2"}]  # re-read and merged again after the 412
    assert (
        change.after
        == snap(name)["Environment"]["Variables"]
        == {**KEEP, "OTHER": "2", "OURS": "1"}
    )
    assert change.revision_id == lam.get_function_configuration(FunctionName=name)["RevisionId"]


def test_when_lambda_refuses_the_write_it_fails_with_lambdas_message_and_changes_nothing(
    name, slow_updates, lam
):
    before = lam.get_function_configuration(FunctionName=name)
    before.pop("ResponseMetadata")

    def grow(env):  # a merge without its own 4 KB check: Lambda is the judge
        return {**env, "BIG": "b" * listeners.ENV_LIMIT_BYTES}

    with pytest.raises(ActivityFailed) as excinfo:
        latest.update(lam, name, grow)
    assert LAMBDA_4KB in str(excinfo.value)
    assert f"Lambda function '{name}'" in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, ClientError)
    after = lam.get_function_configuration(FunctionName=name)
    after.pop("ResponseMetadata")
    assert after == before


def test_a_foreign_variable_that_grew_meanwhile_fails_the_enable_and_changes_nothing(
    name, slow_updates, monkeypatch, lam, configuration
):
    grown = {**KEEP, "GREW": "g" * (listeners.ENV_LIMIT_BYTES - 40)}
    during_merge(monkeypatch, foreign_edit(lam, name, grown, wait=True))
    with pytest.raises(ActivityFailed, match="over Lambda's 4096-byte limit") as excinfo:
        actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert f"'{name}'" in str(excinfo.value)
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Environment"]["Variables"] == grown
    assert config["LastUpdateStatus"] == "Successful"


class Contended:
    """Delegates to the real client; every update fails with ResourceConflictException."""

    def __init__(self, real):
        self._real = real
        self.update_calls = 0

    def __getattr__(self, name):
        return getattr(self._real, name)

    def update_function_configuration(self, **kwargs):
        self.update_calls += 1
        raise ClientError(
            {"Error": {"Code": "ResourceConflictException", "Message": "simulated"}},
            "UpdateFunctionConfiguration",
        )


def test_gives_up_after_bounded_attempts_and_leaves_the_function_alone(
    monkeypatch, lam, make_function, snap, configuration
):
    name = make_function(KEEP)
    before = snap(name)
    fake = Contended(lam)
    monkeypatch.setattr(inject, "client", lambda *a, **k: fake)
    with pytest.raises(ActivityFailed, match="ResourceConflictException"):
        actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert fake.update_calls == latest.MAX_ATTEMPTS
    assert snap(name) == before
