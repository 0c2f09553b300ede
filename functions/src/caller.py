"""caller: the fixed version of caller-naive.

Two changes, as the origin of this project recommends:

- its Lambda timeout (6 s) exceeds upstream-lambda's (4 s), so even an upstream that
  runs into its own timeout is answered for;
- the invoke is bounded by the time this invocation has left: one attempt, no
  retries, and a read timeout of the remaining time minus a safety margin.

So it always returns a controlled answer, never "Task timed out".

Returns: {"upstream": <payload>, "degraded": false}
      or {"upstream": null, "degraded": true, "error": "<why>"}
"""

import logging
import os

from botocore.exceptions import BotoCoreError, ClientError
from common import upstream
from common.agent import agent

FUNCTION_NAME = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "caller")
# Time kept back for answering after the upstream call has given up.
MARGIN_MS = int(os.environ.get("UPSTREAM_TIMEOUT_MARGIN_MS", "750"))
# Below this budget the call is not worth starting.
MIN_BUDGET_MS = 250

logger = logging.getLogger(__name__)


@agent
def handler(event, context):
    budget_ms = context.get_remaining_time_in_millis() - MARGIN_MS
    if budget_ms < MIN_BUDGET_MS:
        return _degraded(f"only {budget_ms} ms left for the upstream call")

    client = upstream.bounded_client(budget_ms / 1000.0)
    try:
        function_error, payload = upstream.invoke(client, {"caller": FUNCTION_NAME})
    except (BotoCoreError, ClientError) as exc:
        return _degraded(f"{type(exc).__name__}: {exc}")

    if function_error:
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        return _degraded(f"{upstream.UPSTREAM_FUNCTION} failed ({function_error}): {message}")
    return {"upstream": payload, "degraded": False}


def _degraded(error: str) -> dict:
    logger.warning("answering without %s: %s", upstream.UPSTREAM_FUNCTION, error)
    return {"upstream": None, "degraded": True, "error": error}
