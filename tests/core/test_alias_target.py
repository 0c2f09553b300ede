"""Alias faults through published versions, against the sandbox's Lambda control plane.

What is asserted is the state Lambda answers afterwards: $LATEST's whole
configuration, every alias's routing and every version.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from chaoslib.exceptions import ActivityFailed
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chaosthundra import listeners
from chaosthundra.aws import client
from chaosthundra.targets import alias as target
from chaosthundra.targets import chaos_versions, latest
from chaosthundra.targets.routing import DESCRIPTION_PREFIX, Mark, Routing
from tests.core.conftest import _zip, snapshot
from tests.core.injection_merges import add, remove

FOREIGN = {
    "REDIS_URL": "redis://cache:6379/0",
    "GREETING": "héllo wörld ✓ 日本",
    "EMPTY": "",
    "THUNDRA_APIKEY": "k-123",
}


def state(lam, name: str) -> dict:
    """$LATEST, every alias's routing, every published version: all that a fault may touch."""
    aliases = lam.list_aliases(FunctionName=name)["Aliases"]
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    return {
        "latest": snapshot(lam, name),
        "aliases": {a["Name"]: Routing.of(a) for a in aliases},
        "versions": sorted(
            json.dumps(
                {k: v for k, v in config.items() if k not in ("LastModified", "RevisionId")},
                sort_keys=True,
            )
            for config in versions
            if config["Version"] != "$LATEST"
        ),
    }


def write(lam, operation: str, **kwargs) -> None:
    """A setup write to $LATEST, waited out like a deploy would be."""
    getattr(lam, operation)(**kwargs)
    lam.get_waiter("function_updated_v2").wait(FunctionName=kwargs["FunctionName"])


def env_of(lam, name: str, qualifier: str) -> dict:
    config = lam.get_function_configuration(FunctionName=name, Qualifier=qualifier)
    return config.get("Environment", {}).get("Variables", {})


@pytest.fixture(scope="module")
def lam(sandbox_configuration):
    return client("lambda", sandbox_configuration)


@pytest.fixture(scope="module")
def role_arn(sandbox_configuration) -> str:
    iam = client("iam", sandbox_configuration)
    name = f"alias-target-{uuid.uuid4().hex[:8]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture
def make_function(lam, role_arn):
    """Create a function with a unique name (Timeout 7); returns the name."""

    def make(variables: dict) -> str:
        name = f"alias-{uuid.uuid4().hex[:10]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            Timeout=7,
            Environment={"Variables": variables},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    return make


@pytest.fixture
def aliased(make_function, lam):
    """A function whose alias 'live' points at version 1, identical to $LATEST."""

    def make(variables: dict = FOREIGN) -> str:
        name = make_function(dict(variables))
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        return name

    return make


def test_all_alias_traffic_goes_to_a_chaos_version_and_comes_back_exactly(aliased, lam):
    name = aliased()
    before = state(lam, name)

    change = target.update(lam, name, "live", add("error"), percentage=100)

    assert (
        change.changed
        and change.alias.base_version == "1"
        and change.alias.replaced_version is None
    )
    chaos = change.alias.version
    assert chaos not in (None, "1")
    assert Routing.of(lam.get_alias(FunctionName=name, Name="live")) == Routing(chaos, {})
    key = listeners.env_key("error")
    assert env_of(lam, name, chaos) == FOREIGN | {key: change.after[key]}
    mark = Mark.parse(
        lam.get_function_configuration(FunctionName=name, Qualifier=chaos)["Description"]
    )
    assert mark == Mark("live", "1", 100.0, Routing("1", {}), ("error",))
    # $LATEST carried the fault only while publishing
    assert state(lam, name)["latest"] == before["latest"]

    undone = target.update(lam, name, "live", remove("error"))

    assert (
        undone.changed and undone.alias.version is None and undone.alias.replaced_version == chaos
    )
    assert state(lam, name) == before


def test_a_percentage_adds_the_chaos_version_as_an_additional_weight(aliased, lam):
    name = aliased()
    before = state(lam, name)

    change = target.update(lam, name, "live", add("error"), percentage=30)

    routing = Routing.of(lam.get_alias(FunctionName=name, Name="live"))
    assert routing == Routing("1", {change.alias.version: 0.3})
    assert str(routing) == f"version 1 70%, version {change.alias.version} 30%"

    target.update(lam, name, "live", remove("error"))
    assert state(lam, name) == before


def test_two_injections_share_one_chaos_version_and_are_disabled_in_turn(aliased, lam):
    name = aliased()
    before = state(lam, name)
    error, latency = listeners.env_key("error"), listeners.env_key("slow")

    first = target.update(lam, name, "live", add("error"), percentage=30)
    second = target.update(lam, name, "live", add("slow", class_name="HTTP"), percentage=30)

    assert second.alias.replaced_version == first.alias.version
    assert set(env_of(lam, name, second.alias.version)) == set(FOREIGN) | {error, latency}
    assert Routing.of(lam.get_alias(FunctionName=name, Name="live")) == Routing(
        "1", {second.alias.version: 0.3}
    )
    published = {v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]}
    assert published == {"$LATEST", "1", second.alias.version}, (
        "the replaced chaos version is deleted"
    )

    third = target.update(lam, name, "live", remove("error"))

    assert set(env_of(lam, name, third.alias.version)) == set(FOREIGN) | {latency}
    assert Routing.of(lam.get_alias(FunctionName=name, Name="live")) == Routing(
        "1", {third.alias.version: 0.3}
    )
    assert state(lam, name)["latest"] == before["latest"]

    target.update(lam, name, "live", remove("slow"))
    assert state(lam, name) == before


def test_injections_on_one_alias_share_its_percentage(aliased, lam):
    name = aliased()
    target.update(lam, name, "live", add("error"), percentage=30)
    during = state(lam, name)

    with pytest.raises(ActivityFailed, match=r"on 30% of its traffic.*traffic_percentage 30"):
        target.update(lam, name, "live", add("slow"), percentage=50)

    assert state(lam, name) == during
    target.update(lam, name, "live", remove("error"))


def test_an_unqualified_injection_on_latest_stays_there_and_out_of_the_alias(aliased, lam):
    own = listeners.env_key("on_latest")
    name = aliased()
    write(
        lam,
        "update_function_configuration",
        FunctionName=name,
        Environment={"Variables": FOREIGN | {own: "{}"}},
    )
    before = state(lam, name)
    assert before["latest"]["Environment"]["Variables"][own] == "{}"

    change = target.update(lam, name, "live", add("error"), percentage=100)

    assert set(env_of(lam, name, change.alias.version)) == set(FOREIGN) | {
        listeners.env_key("error")
    }
    assert state(lam, name)["latest"] == before["latest"]
    target.update(lam, name, "live", remove("error"))
    assert state(lam, name) == before


def _other_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'unreleased'\n")
    return buf.getvalue()


def test_refused_when_latest_code_differs_from_the_alias_version(aliased, lam):
    name = aliased()
    write(lam, "update_function_code", FunctionName=name, ZipFile=_other_zip())
    before = state(lam, name)

    with pytest.raises(ActivityFailed) as refused:
        target.update(lam, name, "live", add("error"), percentage=100)

    message = str(refused.value)
    assert "code (CodeSha256): $LATEST has" in message and "version 1 has" in message
    assert "would ship what was never released" in message
    assert state(lam, name) == before


def test_refused_when_a_setting_or_a_variable_of_latest_differs(aliased, lam):
    name = aliased()
    write(
        lam,
        "update_function_configuration",
        FunctionName=name,
        Timeout=30,
        Environment={"Variables": FOREIGN | {"NEW_FLAG": "secret-value"}},
    )
    before = state(lam, name)

    with pytest.raises(ActivityFailed) as refused:
        target.update(lam, name, "live", add("error"), percentage=100)

    message = str(refused.value)
    assert "Timeout: $LATEST has 30, version 1 has 7" in message
    assert "variable NEW_FLAG: only in $LATEST" in message
    assert "secret-value" not in message
    assert state(lam, name) == before


@pytest.mark.parametrize(
    "qualifier, reason",
    [("1", "versions are immutable"), ("$LATEST", "give no qualifier"), ("a b", "not an alias")],
)
def test_refused_on_what_is_not_an_alias(aliased, lam, qualifier, reason):
    name = aliased()
    before = state(lam, name)

    with pytest.raises(ActivityFailed, match=reason):
        target.update(lam, name, qualifier, add("error"), percentage=100)

    assert state(lam, name) == before


def test_refused_on_an_unknown_alias_naming_the_existing_ones(aliased, lam):
    name = aliased()
    with pytest.raises(ActivityFailed, match=r"has no alias 'prod' \(its aliases: live\)"):
        target.update(lam, name, "prod", add("error"), percentage=100)


@pytest.mark.parametrize("percentage", [0, -5, 100.5, float("nan"), True, "20"])
def test_refused_percentages(aliased, lam, percentage):
    name = aliased()
    before = state(lam, name)
    with pytest.raises(ActivityFailed, match="traffic_percentage must be a number"):
        target.update(lam, name, "live", add("error"), percentage=percentage)
    assert state(lam, name) == before


def test_an_alias_that_already_splits_its_traffic(make_function, lam):
    name = make_function(dict(FOREIGN))
    lam.publish_version(FunctionName=name)  # 1: the old release
    write(lam, "update_function_configuration", FunctionName=name, Timeout=9)
    lam.publish_version(FunctionName=name)  # 2: the new release, identical to $LATEST
    lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}},
    )
    before = state(lam, name)

    with pytest.raises(ActivityFailed, match=r"splits its traffic.*traffic_percentage 90 or 10"):
        target.update(lam, name, "live", add("error"), percentage=30)
    assert state(lam, name) == before
    # version 1's share would need $LATEST to match version 1, which it does not
    with pytest.raises(ActivityFailed, match="Timeout: \\$LATEST has 9, version 1 has 7"):
        target.update(lam, name, "live", add("error"), percentage=10)
    assert state(lam, name) == before

    change = target.update(lam, name, "live", add("error"), percentage=90)

    assert Routing.of(lam.get_alias(FunctionName=name, Name="live")) == Routing(
        change.alias.version, {"1": 0.1}
    )
    target.update(lam, name, "live", remove("error"))
    assert state(lam, name) == before


def test_an_alias_on_latest_is_refused(make_function, lam):
    name = make_function(dict(FOREIGN))
    lam.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")
    before = state(lam, name)
    with pytest.raises(ActivityFailed, match="points at \\$LATEST.*without a qualifier"):
        target.update(lam, name, "dev", add("error"), percentage=100)
    assert state(lam, name) == before


def test_disabling_where_nothing_is_injected_changes_nothing(aliased, lam):
    name = aliased()
    before = state(lam, name)
    change = target.update(lam, name, "live", remove("error"))
    assert not change.changed
    assert state(lam, name) == before


def test_find_and_undo_work_from_the_descriptions_alone(aliased, lam):
    first, second = aliased(), aliased()
    lam.create_alias(FunctionName=second, Name="canary", FunctionVersion="1")
    before = {name: state(lam, name) for name in (first, second)}
    target.update(lam, first, "live", add("error"), percentage=100)
    live = target.update(lam, second, "live", add("error"), percentage=20)
    canary = target.update(lam, second, "canary", add("slow"), percentage=50)

    found = chaos_versions.find(lam, [first, second])

    assert sorted(
        (c.function_name, c.mark.alias, c.aliases, c.injections) for c in found
    ) == sorted(
        [
            (first, "live", ["live"], ["error"]),
            (second, "live", ["live"], ["error"]),
            (second, "canary", ["canary"], ["slow"]),
        ]
    )
    assert {c.version for c in found if c.function_name == second} == {
        live.alias.version,
        canary.alias.version,
    }

    removed = chaos_versions.undo(lam, second, "canary")
    assert [c.version for c in removed] == [canary.alias.version]
    assert state(lam, second)["aliases"]["canary"] == Routing("1", {})
    assert state(lam, second)["aliases"]["live"] == Routing("1", {live.alias.version: 0.2})

    for name in (first, second):
        chaos_versions.undo(lam, name)
        assert state(lam, name) == before[name]
    assert chaos_versions.find(lam, [first, second]) == []


def test_an_orphan_chaos_version_is_found_and_deleted(aliased, lam):
    """What a run killed between PublishVersion and UpdateAlias leaves behind."""
    name = aliased()
    before = state(lam, name)
    mark = Mark("live", "1", 100.0, Routing("1", {}), ("error",))
    write(lam, "update_function_configuration", FunctionName=name, Timeout=8)
    orphan = lam.publish_version(FunctionName=name, Description=mark.description())["Version"]
    write(lam, "update_function_configuration", FunctionName=name, Timeout=7)

    (found,) = chaos_versions.find(lam, [name])
    assert (found.version, found.aliases) == (orphan, [])

    assert [c.version for c in chaos_versions.undo(lam, name)] == [orphan]
    assert state(lam, name)["versions"] == before["versions"]


def test_the_description_fits_lambdas_limit_and_reads_back():
    long = Mark("a" * 128, "12345", 33.5, Routing("12344", {"12343": 0.25}), ("x" * 40,) * 6)
    text = long.description()
    assert text.startswith(DESCRIPTION_PREFIX) and len(text) <= 256
    assert Mark.parse(text) == Mark(long.alias, long.base, 33.5, long.before, ())
    short = Mark("live", "3", 20.0, Routing("3", {}), ("error", "slow"))
    assert Mark.parse(short.description()) == short
    assert Mark.parse("a function under test") is None
    assert Mark.parse(DESCRIPTION_PREFIX + "{not json") is None


def test_the_last_injection_goes_even_when_latest_moved_on(aliased, lam):
    name = aliased()
    target.update(lam, name, "live", add("error"), percentage=100)
    write(
        lam, "update_function_code", FunctionName=name, ZipFile=_other_zip()
    )  # a deploy meanwhile
    latest_now = snapshot(lam, name)

    undone = target.update(lam, name, "live", remove("error"))

    assert undone.changed
    assert state(lam, name)["aliases"] == {"live": Routing("1", {})}
    assert [c for c in chaos_versions.find(lam, [name])] == []
    assert snapshot(lam, name) == latest_now


def test_an_injection_that_does_not_fit_leaves_everything_untouched(aliased, lam):
    name = aliased(FOREIGN | {"BIG": "x" * 3900})
    before = state(lam, name)
    with pytest.raises(listeners.ConfigTooLarge):
        target.update(lam, name, "live", add("error"), percentage=100)
    assert state(lam, name) == before


def test_removing_the_last_injection_also_deletes_what_a_killed_run_left_for_that_alias(
    aliased, lam
):
    name = aliased()
    before = state(lam, name)
    write(lam, "update_function_configuration", FunctionName=name, Timeout=8)
    orphan = lam.publish_version(
        FunctionName=name, Description=Mark("live", "1", 100.0, Routing("1", {})).description()
    )["Version"]
    write(lam, "update_function_configuration", FunctionName=name, Timeout=7)

    target.update(lam, name, "live", add("error"), percentage=100)
    target.update(lam, name, "live", remove("error"))

    assert orphan not in {
        v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
    }
    assert state(lam, name) == before


# ----------------------------------------------------------------- property
PROPERTY_NAMES = ["error", "latency", "redis_get"]

steps = st.lists(
    st.tuples(
        st.sampled_from(["enable", "disable"]),
        st.sampled_from(["live", None]),  # the alias, or $LATEST
        st.sampled_from(PROPERTY_NAMES),
    ),
    min_size=1,
    max_size=7,
)


def ours(variables: dict) -> set[str]:
    return {listeners.injection_name_of(k) for k in variables if listeners.is_ours(k)}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps, percentage=st.sampled_from([100, 30, 0.5]), split=st.booleans())
@example(
    sequence=[("enable", "live", "error"), ("enable", "live", "latency")],
    percentage=100,
    split=False,
)
@example(  # $LATEST already holds what the alias's version must carry, after a chaos
    # version was published and deleted: Lambda would publish nothing new of it
    sequence=[
        ("enable", None, "latency"),
        ("enable", "live", "latency"),
        ("disable", "live", "latency"),
        ("enable", "live", "latency"),
    ],
    percentage=100,
    split=False,
)
def test_any_sequence_on_an_alias_and_latest_restores_both_exactly(
    lam, make_function, sequence, percentage, split
):
    name = make_function(dict(FOREIGN))
    lam.publish_version(FunctionName=name)
    routing = {"FunctionVersion": "1"}
    if split:  # the alias already sends 10% to an older version identical but for Timeout
        write(lam, "update_function_configuration", FunctionName=name, Timeout=9)
        lam.publish_version(FunctionName=name)
        routing = {
            "FunctionVersion": "2",
            "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.1}},
        }
        percentage = 90
    lam.create_alias(FunctionName=name, Name="live", **routing)
    before = state(lam, name)
    on_alias: set[str] = set()
    on_latest: set[str] = set()

    for op, where, injection in sequence:
        merge = add(injection) if op == "enable" else remove(injection)
        if where is None:
            latest.update(lam, name, merge)
            (on_latest.add if op == "enable" else on_latest.discard)(injection)
        else:
            target.update(lam, name, "live", merge, percentage if op == "enable" else None)
            (on_alias.add if op == "enable" else on_alias.discard)(injection)

        now = state(lam, name)
        latest_env = now["latest"].get("Environment", {}).get("Variables", {})
        assert ours(latest_env) == on_latest
        assert {k: v for k, v in latest_env.items() if not listeners.is_ours(k)} == FOREIGN
        assert {k: v for k, v in now["latest"].items() if k != "Environment"} == {
            k: v for k, v in before["latest"].items() if k != "Environment"
        }
        chaos = chaos_versions.find(lam, [name])
        if not on_alias:
            assert chaos == [] and now["aliases"] == before["aliases"]
            continue
        (version,) = chaos
        assert version.injections == sorted(on_alias) and version.aliases == ["live"]
        assert now["aliases"]["live"] == before["aliases"]["live"].replace(
            version.mark.base, version.version
        ) or now["aliases"]["live"] == Routing(
            before["aliases"]["live"].function_version, {version.version: percentage / 100}
        )

    for injection in sorted(on_alias):
        target.update(lam, name, "live", remove(injection))
    for injection in sorted(on_latest):
        latest.update(lam, name, remove(injection))
    assert state(lam, name) == before


def test_latest_moving_between_our_write_and_the_publish_is_retried_and_kept(
    aliased, lam, sandbox_configuration, caplog
):
    """A foreign write lands just before PublishVersion: Lambda's 412, then a clean retry."""
    name = aliased()
    someone = client("lambda", sandbox_configuration, read_timeout=59)  # another client
    edits = []

    def edit_first_time(**_):
        if not edits:
            edits.append(
                someone.update_function_configuration(FunctionName=name, Description="ops")
            )
            someone.get_waiter("function_updated_v2").wait(FunctionName=name)

    lam.meta.events.register("before-call.lambda.PublishVersion", edit_first_time)
    try:
        with caplog.at_level("INFO", logger="chaostoolkit"):
            change = target.update(lam, name, "live", add("error"), percentage=100)
    finally:
        lam.meta.events.unregister("before-call.lambda.PublishVersion", edit_first_time)

    assert len(edits) == 1
    assert "PreconditionFailedException publishing" in caplog.text
    assert Routing.of(lam.get_alias(FunctionName=name, Name="live")) == Routing(
        change.alias.version, {}
    )
    latest_now = snapshot(lam, name)
    assert latest_now["Description"] == "ops", "the foreign edit is kept"
    assert latest_now["Environment"]["Variables"] == FOREIGN
    assert listeners.env_key("error") in env_of(lam, name, change.alias.version)
    target.update(lam, name, "live", remove("error"))
