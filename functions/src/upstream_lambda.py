"""upstream-lambda: the dependency of caller-naive and caller. It answers at once.

Its Lambda timeout (4 s in template.yaml) is what a caller has to outlast. The
upstream-latency experiment injects latency on the callers' invoke span of this
function, which from the caller's side looks exactly like a slow upstream.

Returns: {"answer": 42, "from": "upstream-lambda"}
"""

import os

from common.agent import agent

FUNCTION_NAME = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "upstream-lambda")


@agent
def handler(event, context):
    return {"answer": 42, "from": FUNCTION_NAME}
