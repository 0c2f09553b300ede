"""caller-naive: invokes upstream-lambda and returns its answer.

The flaw the upstream-latency experiment finds: this function's Lambda timeout (2 s)
is shorter than the upstream's (4 s), and it calls the upstream with boto3's default
client (60 s read timeout, retries). When the upstream is slower than usual but
still within its own timeout, this function times out instead of answering.

Returns: {"upstream": <the upstream's decoded payload>}
"""

import os

from common import upstream
from common.agent import agent

FUNCTION_NAME = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "caller-naive")


@agent
def handler(event, context):
    _, payload = upstream.invoke(upstream.default_client, {"caller": FUNCTION_NAME})
    return {"upstream": payload}
