"""Property: random enables and disables through the actions, on an alias and on $LATEST,
leave each holding exactly the injections a model predicts, and undo exactly.

One function (alias 'live' on version 1) serves every example: each must leave it as
found, or the next starts from what it left.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosthundra import actions, probes
from chaosthundra.engine import remove
from tests.e2e.test_alias_actions import everything

NAMES = ["error", "redis_get"]
steps = st.lists(
    st.tuples(
        st.sampled_from(["enable", "disable", "remove_all"]),
        st.sampled_from(["error", "latency"]),
        st.sampled_from(NAMES),
        st.sampled_from(["live", None]),
    ),
    min_size=1,
    max_size=6,
)


def _apply(op: str, kind: str, name: str, qualifier, percentage: float, fn: str, cfg: dict):
    where = dict(qualifier=qualifier, configuration=cfg)
    if op == "remove_all":
        return actions.remove_all_injections(fn, **where)
    if op == "disable":
        return remove.remove_injection(fn, name, cfg, None, qualifier)
    share = dict(traffic_percentage=percentage if qualifier else 100)
    if kind == "error":
        return actions.enable_error_injection(
            fn, class_name="Redis", injection_name=name, **share, **where
        )
    return actions.enable_latency_injection(
        fn, delay=5, class_name="Redis", injection_name=name, **share, **where
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps, percentage=st.sampled_from([100, 25]))
def test_any_sequence_on_an_alias_and_latest_through_the_actions(
    aliased, lam, sandbox_configuration, sequence, percentage
):
    cfg = sandbox_configuration
    before = everything(lam, aliased)
    model: dict = {"live": {}, None: {}}  # qualifier -> {injection name: kind}

    for op, kind, name, qualifier in sequence:
        _apply(op, kind, name, qualifier, percentage, aliased, cfg)
        if op == "enable":
            model[qualifier][name] = kind
        elif op == "disable":
            model[qualifier].pop(name, None)
        else:
            model[qualifier].clear()
        for where in ("live", None):
            found = {
                i["name"]: i["kind"]
                for i in probes.list_injections(aliased, where, configuration=cfg)
                if i["ours"]
            }
            assert found == model[where], (where, op, name)
        now = everything(lam, aliased)
        assert (now["aliases"] == before["aliases"]) is (not model["live"])

    for where in ("live", None):
        actions.remove_all_injections(aliased, qualifier=where, configuration=cfg)
    assert everything(lam, aliased) == before
