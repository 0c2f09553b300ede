"""The agent, created once per execution environment: the one this package bundles.

Handlers are wrapped with its decorator (``@agent``). Creating the agent patches the
Redis and botocore clients so that every call made inside a handler becomes a span,
and reads its span-listener variables: that is how chaosthundra injects errors and
latency into these functions. The variables are read here, at import time, so a
change reaches only new execution environments.

Both generations are distributions named ``thundra``; ``requirements.txt`` picks one:
- ``thundra`` 3.0.7 and later is the Catchpoint agent (package ``catchpoint``,
  variables ``CATCHPOINT_*``; it sends its spans to its collector, or nowhere
  without an API key);
- ``thundra`` 2.x (package ``thundra``, variables ``THUNDRA_*``). With
  THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE=true it prints its spans to stdout (the
  function's log) instead of sending them to a collector. Without a key it
  complains on every invocation but still applies the span listeners; a dummy
  key keeps the logs clean.

The decorator path is used rather than the layer's ``*.handler.wrapper`` because the
latter imports ``imp``, which Python 3.12 removed.
"""

import os

try:
    from catchpoint.catchpoint_agent import Catchpoint
except ImportError:  # thundra 2.x in this package
    from thundra.thundra_agent import Thundra

    agent = Thundra(api_key=os.environ.get("THUNDRA_APIKEY", "chaosthundra-dummy"))
else:
    agent = Catchpoint(api_key=os.environ.get("CATCHPOINT_APIKEY"))
