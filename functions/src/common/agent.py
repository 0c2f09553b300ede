"""The Thundra agent, created once per execution environment.

Handlers are wrapped with the decorator (``@thundra``). Creating the agent patches
the Redis and botocore clients so that every call made inside a handler becomes a
span, and reads the ``THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG*`` variables: that is
how chaosthundra injects errors and latency into these functions. The variables are
read here, at import time, so a change reaches only new execution environments.

The decorator path is used rather than the ``thundra.handler.wrapper`` layer
handler because the latter imports ``imp``, which Python 3.12 removed.
"""

import os

from thundra.thundra_agent import Thundra

# Without a key the agent complains on every invocation but still applies the span
# listeners; a dummy key keeps the logs clean. With
# THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE=true the agent prints its spans to stdout
# (the function's log) instead of sending them to a collector.
thundra = Thundra(api_key=os.environ.get("THUNDRA_APIKEY", "chaosthundra-dummy"))
