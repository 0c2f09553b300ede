"""user-get-naive: read a user from the Redis cache, on a miss from DynamoDB.

The flaw the redis-failure experiment finds: the cache is treated as if it could
not fail. A Redis error (an outage, or an error injected by chaosthundra on the
Redis GET span) escapes and fails the invocation, although the user is in DynamoDB.

Event: {"userId": "1"}
Returns: {"userFound": bool, "user": {...} | null, "source": "cache" | "dynamodb" | null}
"""

from common import users
from common.agent import agent


@agent
def handler(event, context):
    user_id = users.user_id_of(event)

    user = users.read_cache(user_id)
    if user is not None:
        return users.answer(user, "cache")

    user = users.read_db(user_id)
    if user is not None:
        users.write_cache(user)
    return users.answer(user, "dynamodb")
