"""Conflicts moto cannot produce: an update in progress, and a concurrent edit.

The real moto client does the work; a thin wrapper makes update_function_configuration
fail the way Lambda does under contention, which is the one thing mocked here.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed

from chaosthundra import actions, function_env
from chaosthundra.probes import list_injections


class Contended:
    """Delegates to the real client; the first `failures` updates fail with `code`."""

    def __init__(self, real, code: str, failures: int, meanwhile=None):
        self._real, self._code, self._left, self._meanwhile = real, code, failures, meanwhile
        self.update_calls = 0

    def __getattr__(self, name):
        return getattr(self._real, name)

    def update_function_configuration(self, **kwargs):
        self.update_calls += 1
        if self._left > 0:
            self._left -= 1
            if self._meanwhile:
                self._meanwhile()
            raise ClientError(
                {"Error": {"Code": self._code, "Message": "simulated"}},
                "UpdateFunctionConfiguration",
            )
        return self._real.update_function_configuration(**kwargs)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(function_env, "RETRY_PAUSE_SECONDS", 0.01)


def _patch_client(monkeypatch, fake):
    monkeypatch.setattr(actions, "client", lambda *a, **k: fake)


def test_update_in_progress_is_waited_out_and_retried(
    monkeypatch, lam, make_function, configuration
):
    name = make_function({"A": "1"})
    fake = Contended(lam, "ResourceConflictException", failures=2)
    _patch_client(monkeypatch, fake)
    result = actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert result["status"] == "enabled"
    assert fake.update_calls == 3
    assert [i["name"] for i in list_injections(name, configuration=configuration)] == ["error"]


def test_a_concurrent_edit_is_kept_not_overwritten(
    monkeypatch, lam, make_function, snap, configuration
):
    name = make_function({"A": "1"})

    def someone_else_edits():
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"A": "1", "B": "added meanwhile"}}
        )

    fake = Contended(lam, "PreconditionFailedException", failures=1, meanwhile=someone_else_edits)
    _patch_client(monkeypatch, fake)
    actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    variables = snap(name)["Environment"]["Variables"]
    assert variables["B"] == "added meanwhile"
    assert variables["A"] == "1"
    assert any(k.endswith("_CHAOSTHUNDRA_ERROR") for k in variables)

    actions.disable_error_injection(name, configuration=configuration)
    assert snap(name)["Environment"]["Variables"] == {"A": "1", "B": "added meanwhile"}


def test_gives_up_after_bounded_attempts_and_leaves_the_function_alone(
    monkeypatch, lam, make_function, snap, configuration
):
    name = make_function({"A": "1"})
    before = snap(name)
    fake = Contended(lam, "ResourceConflictException", failures=100)
    _patch_client(monkeypatch, fake)
    with pytest.raises(ActivityFailed, match="ResourceConflictException"):
        actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert fake.update_calls == function_env.MAX_ATTEMPTS
    assert snap(name) == before


def test_revision_id_is_sent_when_the_api_gives_one(monkeypatch, lam, make_function, configuration):
    name = make_function({"A": "1"})
    seen = {}

    class WithRevision:
        def __getattr__(self, attr):
            return getattr(lam, attr)

        def get_function_configuration(self, **kwargs):
            return {**lam.get_function_configuration(**kwargs), "RevisionId": "rev-1"}

        def update_function_configuration(self, **kwargs):
            seen.update(kwargs)
            kwargs.pop("RevisionId")
            return lam.update_function_configuration(**kwargs)

    _patch_client(monkeypatch, WithRevision())
    actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    assert seen["RevisionId"] == "rev-1"
    assert set(seen) == {"FunctionName", "Environment", "RevisionId"}
