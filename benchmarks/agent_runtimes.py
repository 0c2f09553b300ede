"""Which agent and instrumentation works on which Python runtime, each cell from a run.

    python -m benchmarks.agent_runtimes [--write docs/agents.md]

For each Runtime from python3.9 to python3.14, each agent generation (Thundra 2.x:
``thundra==2.7.4``; Catchpoint: ``thundra==3.0.10``) and each way of instrumenting
(the decorator in code; the layer's handler wrapper with the real handler in the
agent's variable), one function is deployed into a sandbox, with its package built by
that runtime's pip, and an error listener on its Redis spans; it is invoked once.
A cell says "works" only when the invoke fails with the injected error (the agent
loaded, read the listener and applied it to the handler's Redis GET); otherwise it says
what the invoke answered.
A Runtime without an interpreter on this machine says "no interpreter here".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chaosthundra import runtimes
from chaosthundra.agents import CATCHPOINT, THUNDRA
from chaosthundra.agents.profile import AgentProfile
from chaosthundra.listeners import encode, error_listener, span_filter
from chaosthundra.sandbox import Sandbox
from chaosthundra.sandbox.credentials import SANDBOX_CREDENTIALS
from chaosthundra.sandbox.packages import PackageError
from tests.sandbox_functions import CATCHPOINT_REQUIREMENTS, THUNDRA_2_REQUIREMENTS, package

RUNTIMES = runtimes.SUPPORTED
MESSAGE = "agent-runtime matrix"
IMPORTS = "import os\n\nimport redis\n\n"
HANDLER = (
    "def handler(event, context):\n"
    "    redis.Redis.from_url(os.environ['REDIS_URL']).get('matrix')\n"
    "    return {'ran': True}\n"
)
PLAIN = IMPORTS + "\n" + HANDLER
DECORATED = {
    THUNDRA: IMPORTS
    + "from thundra.thundra_agent import Thundra\n\nagent = Thundra(api_key='matrix')\n\n\n@agent\n"
    + HANDLER,
    CATCHPOINT: IMPORTS
    + "from catchpoint.catchpoint_agent import Catchpoint\n\n"
    + "agent = Catchpoint(api_key='matrix')\n\n\n@agent\n"
    + HANDLER,
}
REQUIREMENTS = {THUNDRA: THUNDRA_2_REQUIREMENTS, CATCHPOINT: CATCHPOINT_REQUIREMENTS}
WAYS = ("decorator", "layer wrapper")
MARKERS = ("<!-- agent-runtimes: begin -->", "<!-- agent-runtimes: end -->")


def _cell(lam: Any, role: str, redis_url: str, runtime: str, agent: AgentProfile, way: str) -> str:
    name = f"matrix-{agent.name}-{way[0]}-{runtime.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    config = error_listener(
        [span_filter(class_name="Redis")], error_type="redis.ConnectionError", error_message=MESSAGE
    )
    variables = {agent.env_key("matrix"): encode(config), "REDIS_URL": redis_url}
    if way == "decorator":
        files, handler = {"app.py": DECORATED[agent]}, "app.handler"
    else:
        files, handler = {"app.py": PLAIN}, agent.layer_handler
        variables[agent.handler_variable] = "app.handler"
    try:
        zipped = package(files, REQUIREMENTS[agent], runtime=runtime)
    except PackageError as error:
        return f"its package does not build here: {str(error)[-100:]}"
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler=handler,
        Code={"ZipFile": zipped},
        Environment={"Variables": variables},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError") and body.get("errorMessage") == MESSAGE:
        return "works"
    if answer.get("FunctionError"):
        return f"fails: {body.get('errorType')}: {body.get('errorMessage')}"[:120]
    return f"the listener was not applied (answered {json.dumps(body)[:60]})"


def measure() -> dict[tuple[str, str, str], str]:
    """{(runtime, agent title, way): cell} from one sandbox."""
    cells: dict[tuple[str, str, str], str] = {}
    with Sandbox(template=None, port=0) as box:
        where = {"endpoint_url": box.endpoint_url, "region_name": box.region}
        once = Config(retries={"total_max_attempts": 1}, read_timeout=120)  # an invoke runs once
        lam = boto3.client("lambda", config=once, **where, **SANDBOX_CREDENTIALS)
        iam = boto3.client("iam", **where, **SANDBOX_CREDENTIALS)
        role = iam.create_role(RoleName="matrix", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for runtime in RUNTIMES:
            for agent in (THUNDRA, CATCHPOINT):
                for way in WAYS:
                    key = (runtime, agent.title, way)
                    if runtimes.interpreter(runtime) is None:
                        cells[key] = "no interpreter here"
                        continue
                    try:
                        cells[key] = _cell(lam, role, box.redis_url, runtime, agent, way)
                    except ClientError as error:
                        cells[key] = f"fails: {error.response['Error']['Code']}"
                    print(runtime, agent.title, way, cells[key], file=sys.stderr)
    return cells


def table(cells: dict[tuple[str, str, str], str]) -> str:
    columns = [(agent.title, way) for agent in (THUNDRA, CATCHPOINT) for way in WAYS]
    lines = [
        "| Runtime | " + " | ".join(f"{title}, {way}" for title, way in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for runtime in RUNTIMES:
        row = [cells[(runtime, title, way)].replace("|", "\\|") for title, way in columns]
        lines.append(f"| {runtime} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the table between the markers")
    args = parser.parse_args()
    text = table(measure())
    print(text)
    if args.write:
        document = args.write.read_text()
        begin, end = MARKERS
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        args.write.write_text(pattern.sub(lambda _: f"{begin}\n{text}\n{end}", document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
