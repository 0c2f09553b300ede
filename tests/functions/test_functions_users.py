"""user-get-naive and user-get in the sandbox, against a real Redis and moto's DynamoDB.

Scenario 1 of the project (redis-failure): a Redis failure, real or injected by the
Thundra agent on the Redis GET span, fails the naive handler; the resilient handler
falls back to DynamoDB and still finds the user.
"""

import json

import pytest
from fn_support import LISTENER_INFO_TAG, LISTENER_KEY, REDIS_GET_ERROR, free_port, injected_spans

USER_GETS = ["user-get-naive", "user-get"]

CACHED = "1"  # in Redis and DynamoDB (the experiments use it)
UNCACHED = "3"  # in DynamoDB only
UNKNOWN = "404"


def seeded_user(seed, user_id):
    return next(user for user in seed["dynamodb"]["users"] if user["id"] == user_id)


@pytest.mark.parametrize("name", USER_GETS)
def test_lookup_cache_hit_miss_and_unknown(lambdas, cache, seed, name):
    events = [{"userId": uid} for uid in (CACHED, UNCACHED, UNCACHED, UNKNOWN)]
    hit, miss, cached_now, unknown = (i["result"] for i in lambdas.run(name, events).invocations)

    assert hit == {"userFound": True, "user": seeded_user(seed, CACHED), "source": "cache"}
    # A miss reads DynamoDB and fills the cache; the next lookup is a cache hit.
    assert miss == {"userFound": True, "user": seeded_user(seed, UNCACHED), "source": "dynamodb"}
    assert json.loads(cache.get(f"user:{UNCACHED}")) == seeded_user(seed, UNCACHED)
    assert 0 < cache.ttl(f"user:{UNCACHED}") <= 300
    assert cached_now == {**miss, "source": "cache"}
    assert unknown == {"userFound": False, "user": None, "source": None}
    assert not cache.exists(f"user:{UNKNOWN}")


@pytest.mark.parametrize("name", USER_GETS)
def test_bad_event_is_an_error(lambdas, cache, name):
    outcome = lambdas.run(name, [{}]).only
    assert outcome["errorType"] == "ValueError"
    assert "userId" in outcome["errorMessage"]


def test_redis_down_fails_naive_handler(lambdas, cache):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    outcome = lambdas.run("user-get-naive", [{"userId": CACHED}], redis=dead).only

    assert outcome["errorType"] == "ConnectionError"
    assert any("/redis/" in line for line in outcome["stackTrace"])  # redis's own error
    assert outcome["durationMs"] < 1500  # short socket timeouts, no retries


def test_redis_down_resilient_handler_reads_dynamodb(lambdas, cache, seed):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    events = [{"userId": CACHED}, {"userId": UNKNOWN}]
    found, unknown = lambdas.run("user-get", events, redis=dead).invocations

    assert found["result"]["userFound"] is True
    assert found["result"]["user"] == seeded_user(seed, CACHED)
    assert found["result"]["source"] == "dynamodb"
    assert found["result"]["cacheError"].startswith("ConnectionError:")
    assert found["durationMs"] < 1500
    assert unknown["result"]["userFound"] is False
    assert unknown["result"]["cacheError"].startswith("ConnectionError:")


def test_injected_redis_error_fails_naive_handler(lambdas, cache):
    env = {LISTENER_KEY: json.dumps(REDIS_GET_ERROR)}
    outcome = lambdas.run("user-get-naive", [{"userId": CACHED}], extra_env=env)

    failure = outcome.only
    assert failure["errorType"] == "ConnectionError"
    assert failure["errorMessage"] == "injected"
    # The agent says so in the function's log: the Redis GET span carries the info tag.
    [span] = injected_spans(outcome.log)
    assert span["className"] == "Redis"
    assert span["tags"]["redis.command.type"] == "GET"
    assert span["tags"][LISTENER_INFO_TAG]["type"] == "error_injector_span_listener"


def test_injected_redis_error_resilient_handler_succeeds(lambdas, cache, seed):
    env = {LISTENER_KEY: json.dumps(REDIS_GET_ERROR)}
    events = [{"userId": CACHED}, {"userId": UNCACHED}]
    outcome = lambdas.run("user-get", events, extra_env=env)
    cached, uncached = (i["result"] for i in outcome.invocations)

    expected = {"userFound": True, "source": "dynamodb", "cacheError": "ConnectionError: injected"}
    assert cached == {**expected, "user": seeded_user(seed, CACHED)}
    assert uncached == {**expected, "user": seeded_user(seed, UNCACHED)}
    # While the cache fails, it is not refilled.
    assert not cache.exists(f"user:{UNCACHED}")
    assert len(injected_spans(outcome.log)) == 2


def test_fault_stays_in_its_environment(lambdas, cache, seed):
    """The same function without the listener variable (a new environment) is healthy."""
    env = {LISTENER_KEY: json.dumps(REDIS_GET_ERROR)}
    faulty = lambdas.start("user-get-naive", [{"userId": CACHED}], extra_env=env)
    healthy = lambdas.start("user-get-naive", [{"userId": CACHED}])

    assert faulty.wait().only["errorMessage"] == "injected"
    healthy_outcome = healthy.wait()
    assert healthy_outcome.only["result"]["source"] == "cache"
    assert injected_spans(healthy_outcome.log) == []
