"""User lookup shared by user-get-naive and user-get: a Redis cache in front of DynamoDB.

Clients are created once per execution environment, at import, as production
Lambdas do. Their endpoints come from the environment:

- ``REDIS_URL`` for Redis (``redis://host:port/db``, ``rediss://`` for TLS);
- ``AWS_ENDPOINT_URL`` (honoured by boto3 itself) for DynamoDB when it is not AWS.

The Redis timeouts are short and retries are off, so a dead cache costs at most
about a second and never the whole Lambda timeout.
"""

import json
import os
from decimal import Decimal
from typing import Any, Dict, Optional

import boto3
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

USERS_TABLE = os.environ.get("USERS_TABLE", "users")
CACHE_TTL_SECONDS = int(os.environ.get("CACHE_TTL_SECONDS", "300"))
REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "1"))

cache = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    socket_timeout=REDIS_TIMEOUT_SECONDS,
    retry=Retry(NoBackoff(), 0),
    decode_responses=True,
)
table = boto3.resource("dynamodb").Table(USERS_TABLE)

User = Dict[str, Any]


def user_id_of(event: Any) -> str:
    """The ``userId`` of an event such as ``{"userId": "1"}``."""
    user_id = event.get("userId") if isinstance(event, dict) else None
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id:
        raise ValueError('the event must carry a non-empty "userId", e.g. {"userId": "1"}')
    return user_id


def cache_key(user_id: str) -> str:
    return f"user:{user_id}"


def read_cache(user_id: str) -> Optional[User]:
    """The cached user, or None on a miss. Redis errors propagate."""
    raw = cache.get(cache_key(user_id))
    return None if raw is None else json.loads(raw)


def write_cache(user: User) -> None:
    """Cache a user for CACHE_TTL_SECONDS. Redis errors propagate."""
    cache.set(cache_key(user["id"]), json.dumps(user, sort_keys=True), ex=CACHE_TTL_SECONDS)


def read_db(user_id: str) -> Optional[User]:
    """The user from DynamoDB, or None if there is no such item."""
    item = table.get_item(Key={"id": user_id}).get("Item")
    return None if item is None else _plain(item)


def answer(user: Optional[User], source: Optional[str], **extra: Any) -> Dict[str, Any]:
    """The handlers' response: userFound, user, source (cache|dynamodb|None) and extras."""
    found = user is not None
    return {"userFound": found, "user": user, "source": source if found else None, **extra}


def _plain(value: Any) -> Any:
    """A DynamoDB item as plain JSON types (the resource API returns Decimal numbers)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value
