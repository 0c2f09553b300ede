"""Alias faults reach exactly the alias's traffic, on the sandbox's real workers.

A Thundra-wrapped function reads Redis; the injection fails its Redis GET. What is
counted is what invokes through the alias (and unqualified) answer.
"""

from __future__ import annotations

import math

from chaosthundra import listeners
from chaosthundra.targets import alias as target
from chaosthundra.targets.routing import Routing
from tests.core.injection_merges import add, remove

REDIS_GET = listeners.error_listener(
    [listeners.span_filter(class_name="Redis", tags={"redis.command.type": "GET"})],
    error_type="redis.ConnectionError",
)


def outcomes(lam, name: str, count: int, qualifier=None) -> list[tuple[bool, str]]:
    """(faulted, executed version) of ``count`` synchronous invokes."""
    kwargs = {"FunctionName": name, "Payload": b"{}"}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    found = []
    for _ in range(count):
        answer = lam.invoke(**kwargs)
        body = answer["Payload"].read().decode()
        faulted = answer.get("FunctionError") == "Unhandled" and "ConnectionError" in body
        assert faulted or "FunctionError" not in answer, body
        found.append((faulted, answer.get("ExecutedVersion")))
    return found


def binomial_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    """The central interval holding ``confidence`` of Binomial(n, p), from its exact CDF."""
    tail = (1 - confidence) / 2
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    low, acc = 0, 0.0
    while acc + pmf[low] <= tail:
        acc += pmf[low]
        low += 1
    high, acc = n, 0.0
    while acc + pmf[high] <= tail:
        acc += pmf[high]
        high -= 1
    return low, high


def test_at_100_percent_every_alias_invoke_is_faulted_and_no_unqualified_one(aliased, lam):
    assert not any(f for f, _ in outcomes(lam, aliased, 5, "live"))

    change = target.update(lam, aliased, "live", add("redis", REDIS_GET), percentage=100)

    through_alias = outcomes(lam, aliased, 20, "live")
    assert all(faulted for faulted, _ in through_alias)
    assert {version for _, version in through_alias} == {change.alias.version}
    unqualified = outcomes(lam, aliased, 20)
    assert not any(faulted for faulted, _ in unqualified)
    assert {version for _, version in unqualified} == {"$LATEST"}

    target.update(lam, aliased, "live", remove("redis"))
    assert Routing.of(lam.get_alias(FunctionName=aliased, Name="live")) == Routing("1", {})
    after = outcomes(lam, aliased, 10, "live")
    assert after == [(False, "1")] * 10


def test_at_30_percent_the_error_ratio_falls_in_the_central_binomial_interval(aliased, lam):
    count = 300
    change = target.update(lam, aliased, "live", add("redis", REDIS_GET), percentage=30)
    assert Routing.of(lam.get_alias(FunctionName=aliased, Name="live")) == Routing(
        "1", {change.alias.version: 0.3}
    )

    found = outcomes(lam, aliased, count, "live")

    faulted = sum(f for f, _ in found)
    # 99.99%: a sound router fails this once in 10,000 runs; a router that sends 0%,
    # 10%, 50% or 100% to the chaos version fails it every time (the interval is 60..122)
    low, high = binomial_interval(count, 0.3, 0.9999)
    assert low <= faulted <= high, f"{faulted} of {count} faulted, expected {low}..{high}"
    # the fault is exactly the chaos version's traffic
    assert all(f == (version == change.alias.version) for f, version in found)
    target.update(lam, aliased, "live", remove("redis"))
    assert Routing.of(lam.get_alias(FunctionName=aliased, Name="live")) == Routing("1", {})


def test_the_binomial_interval():
    # P(X <= 69) = 0.0042 and P(X >= 112) = 0.0039 for Binomial(300, 0.3); one step
    # further in, either tail exceeds 0.005
    assert binomial_interval(300, 0.3, 0.99) == (70, 111)
    # Binomial(10, 0.5): P(X <= 1) = 11/1024 <= 0.05 < P(X <= 2) = 56/1024
    assert binomial_interval(10, 0.5, 0.9) == (2, 8)
