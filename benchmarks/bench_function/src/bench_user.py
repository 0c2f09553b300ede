"""bench-user: a realistic function for `make bench`.

It imports boto3 and the Thundra agent (2.x, the decorator), reads a user from Redis
and counts the visit in DynamoDB; the agent traces both calls as spans. An error
injected on the Redis GET escapes, so a faulted invoke fails.

Event: {"userId": "1"}. Returns {"userId": ..., "cached": bool, "visits": int}.
"""

import os

import boto3
import redis
from thundra.thundra_agent import Thundra

thundra = Thundra(api_key=os.environ.get("THUNDRA_APIKEY", "bench"))
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@thundra
def handler(event, context):
    user_id = str(event.get("userId", "1"))
    cached = cache.get(f"user:{user_id}")
    item = table.update_item(
        Key={"id": user_id},
        UpdateExpression="ADD visits :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    return {
        "userId": user_id,
        "cached": cached is not None,
        "visits": int(item["Attributes"]["visits"]),
    }
