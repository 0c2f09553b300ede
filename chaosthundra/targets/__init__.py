"""Where a fault is written on Lambda: the code that talks to the Lambda API for it.

``alias`` puts injections in front of an alias's traffic through a published
version; ``chaosthundra.function_env`` (to move here later) writes ``$LATEST``.
"""
