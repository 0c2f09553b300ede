"""user-get: the resilient version of user-get-naive.

The cache is an optimisation, not a dependency: a Redis error is logged and the
lookup falls back to DynamoDB, which is the source of truth. While Redis fails the
handler does not try to refill the cache. The response then says what happened in
"cacheError".

Event: {"userId": "1"}
Returns: {"userFound": bool, "user": {...} | null, "source": "cache" | "dynamodb" | null,
          "cacheError": "<type>: <message>"  (only when Redis failed)}
"""

import logging

import redis
from common import users
from common.agent import agent

logger = logging.getLogger(__name__)


@agent
def handler(event, context):
    user_id = users.user_id_of(event)
    extra = {}

    try:
        user = users.read_cache(user_id)
    except redis.RedisError as exc:
        extra["cacheError"] = _describe(exc)
        logger.warning("cache read failed for user %s, reading DynamoDB: %s", user_id, exc)
    else:
        if user is not None:
            return users.answer(user, "cache")

    user = users.read_db(user_id)
    if user is not None and not extra:
        try:
            users.write_cache(user)
        except redis.RedisError as exc:
            extra["cacheError"] = _describe(exc)
            logger.warning("cache write failed for user %s: %s", user_id, exc)
    return users.answer(user, "dynamodb", **extra)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
