"""bench-probe: tries what a local runner enforces, one question per event.

- {"sleep": seconds, "catch": bool}: sleep past the timeout, inside ``except
  Exception`` when ``catch`` (a handler that catches broadly, as many do);
- {"getenv": name}: the value of a variable of the host process, or null;
- {"print_bytes": n}: write n bytes of log between a first and a last line.
"""

import os
import sys
import time


def handler(event, context):
    if "sleep" in event:
        if not event.get("catch"):
            time.sleep(event["sleep"])
            return "slept"
        try:
            time.sleep(event["sleep"])
        except Exception as exc:  # noqa: BLE001 - the point of the probe
            return f"caught {type(exc).__name__}"
        return "slept"
    if "getenv" in event:
        return os.environ.get(event["getenv"])
    if "print_bytes" in event:
        print("FIRST-LOG-LINE")
        line = "x" * 99
        for _ in range(event["print_bytes"] // 100):
            print(line)
        print("LAST-LOG-LINE")
        sys.stdout.flush()
        return "printed"
    raise ValueError(f"unknown probe event {event!r}")
