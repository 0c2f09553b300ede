"""bench-agent: a Redis GET under the Thundra agent, timed inside the handler
(latency fidelity, error exactness, agent overhead). bench_plain.py is the same
without the agent."""

import os
import time

import redis
from thundra.thundra_agent import Thundra

thundra = Thundra(api_key="bench")
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@thundra
def handler(event, context):
    started = time.perf_counter()
    cache.get("bench")
    return {"get_ms": (time.perf_counter() - started) * 1000.0}
