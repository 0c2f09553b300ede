"""A minimal Lambda execution environment, run as a subprocess by the tests.

    python lambda_runner.py CODE_DIR MODULE.FUNCTION FUNCTION_NAME TIMEOUT_S RESULTS_FILE

It imports the handler once (the cold start, with the environment it was started
with: the Thundra agent reads its configuration then), then invokes it once for each
event of the JSON list on stdin, in the main thread as Lambda's Python runtime does.
Each invocation gets a context whose remaining time counts down from TIMEOUT_S; an
invocation that outlives it ends the environment, like Lambda's "Task timed out".
One JSON line per invocation goes to RESULTS_FILE; stdout and stderr are the
function's log (the agent prints its spans there).

This stands in for the sandbox's execution environments until the tests move to it.
"""

import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid


class Context:
    """The attributes and method of the Lambda context object that handlers use."""

    def __init__(self, function_name: str, timeout_s: float) -> None:
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "tests/[$LATEST]" + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Results:
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives until exit
        self._lock = threading.Lock()
        self._closed = False

    def emit(self, record: dict) -> bool:
        """Write one record; False once the environment has been ended."""
        with self._lock:
            if self._closed:
                return False
            self._file.write(json.dumps(record, default=repr) + "\n")
            self._file.flush()
            return True

    def end(self, record: dict) -> None:
        """Write a last record and end the process at once, as Lambda does on timeout."""
        with self._lock:
            if not self._closed:
                self._file.write(json.dumps(record) + "\n")
                self._file.flush()
                self._closed = True
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def main(argv: list) -> None:
    code_dir, handler_path, function_name, timeout_arg, results_path = argv
    timeout_s = float(timeout_arg)
    events = json.load(sys.stdin)
    results = Results(results_path)

    sys.path.insert(0, code_dir)
    module_name, _, attribute = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)

    for event in events:
        context = Context(function_name, timeout_s)
        started = time.monotonic()
        watchdog = threading.Timer(
            timeout_s,
            results.end,
            [{"timedOut": True, "errorMessage": f"Task timed out after {timeout_s:.2f} seconds"}],
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            record = {"result": handler(event, context)}
        except Exception as exc:
            record = {
                "errorType": type(exc).__name__,
                "errorModule": type(exc).__module__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exc(),
            }
        watchdog.cancel()
        record["durationMs"] = round((time.monotonic() - started) * 1000)
        if not results.emit(record):
            return


if __name__ == "__main__":
    main(sys.argv[1:])
