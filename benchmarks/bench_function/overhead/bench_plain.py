"""bench-plain: bench_agent.py without the agent (the overhead baseline)."""

import os
import time

import redis

cache = redis.Redis.from_url(os.environ["REDIS_URL"])


def handler(event, context):
    started = time.perf_counter()
    cache.get("bench")
    return {"get_ms": (time.perf_counter() - started) * 1000.0}
