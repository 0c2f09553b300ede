"""Run a real agent-wrapped handler in this interpreter and report what happened.

Started by test_agent_obeys.py in a child process (``python -S``, with the agent's
package on PYTHONPATH), so the agent's import-time patching never touches the test
process. The agent is the one on the path: Catchpoint (thundra 3.0.7+) or Thundra
2.x. Argument: a JSON list of [handler name, event] pairs, run in order in this one
environment. The listener config under test comes from the environment, exactly as in
a Lambda execution environment. Prints one JSON line per event; ``injected`` lists the
spans' listener info when the agent prints its spans (Thundra 2.x), else null.
"""

import contextlib
import io
import json
import os
import sys
import time
import uuid

import boto3
import redis

try:
    from catchpoint.catchpoint_agent import Catchpoint

    thundra = Catchpoint()
    INFO_TAG = None
except ImportError:
    from thundra.thundra_agent import Thundra

    thundra = Thundra(api_key="chaosthundra-test")
    INFO_TAG = "thundra.span_listener.info"
cache = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)
lam = boto3.client(
    "lambda",
    endpoint_url=os.environ["UPSTREAM_ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id="x",
    aws_secret_access_key="x",
)


@thundra
def redis_get(event, context):
    value = cache.get(event["key"])
    return value.decode() if value is not None else None


@thundra
def redis_set(event, context):
    return bool(cache.set(event["key"], "v"))


@thundra
def invoke(event, context):
    started = time.perf_counter()
    lam.invoke(FunctionName=event["target"], Payload=b"{}")
    return (time.perf_counter() - started) * 1000.0


class Context:
    function_name = "under-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:under-test"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/under-test"
    log_stream_name = "stream"

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self):
        return 30000


def main():
    for name, event in json.loads(sys.argv[1]):
        handler = globals()[name]
        out = io.StringIO()
        result = {"error_type": None, "error_message": None, "result": None}
        with contextlib.redirect_stdout(out):
            try:
                result["result"] = handler(event, Context())
            except Exception as error:  # noqa: BLE001 - reporting what the handler raised
                result["error_type"] = f"{type(error).__module__}.{type(error).__qualname__}"
                result["error_message"] = str(error)
        result["injected"] = INFO_TAG and [
            span["tags"][INFO_TAG]
            for line in out.getvalue().splitlines()
            if line.startswith("{")
            for span in json.loads(line)["data"]["allMonitoringData"]
            if span.get("type") == "Span" and INFO_TAG in span.get("tags", {})
        ]
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
