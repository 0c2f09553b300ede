"""Fixtures for the example functions, all in the session's sandbox (``tests/conftest.py``:
a real redis-server and moto's DynamoDB, with functions/template.yaml and its seed
deployed).

``lambdas`` runs a copy of a template function (its deployed package, handler and
runtime; its variables with the overrides a test asks for) in the sandbox, one copy
per execution environment, through the Lambda Invoke API; the function's log comes from
CloudWatch Logs. ``upstream`` deploys a small upstream function for the callers whose
delay and answer a test chooses. Everything listens on 127.0.0.1 only.
"""

import base64
import json
import re
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import boto3
import pytest
import redis
import yaml
from botocore.config import Config
from fn_support import FUNCTIONS_DIR, TEMPLATE_PATH
from sandbox_functions import create_function

# --- the template -------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation short forms (!Ref X -> {"Ref": "X"})."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE_PATH) -> Dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    timeout: float
    memory: int
    variables: Dict[str, Any] = field(default_factory=dict)

    def environment(self, parameters: Dict[str, str]) -> Dict[str, str]:
        """The function's variables, with !Ref to template parameters resolved."""
        resolved = {}
        for key, value in self.variables.items():
            if isinstance(value, dict) and set(value) == {"Ref"}:
                value = parameters[value["Ref"]]
            resolved[key] = str(value)
        return resolved


def function_specs(template: Dict[str, Any]) -> Dict[str, FunctionSpec]:
    """The template's functions by FunctionName, with Globals.Function applied."""
    defaults = template.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        variables = dict(defaults.get("Environment", {}).get("Variables", {}))
        variables.update(props.get("Environment", {}).get("Variables", {}))
        specs[props["FunctionName"]] = FunctionSpec(
            logical_id=logical_id,
            name=props["FunctionName"],
            handler=props["Handler"],
            code_dir=FUNCTIONS_DIR / props["CodeUri"],
            timeout=float(props.get("Timeout", defaults.get("Timeout", 3))),
            memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
            variables=variables,
        )
    return specs


@pytest.fixture(scope="session")
def template() -> Dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def specs(template) -> Dict[str, FunctionSpec]:
    return function_specs(template)


@pytest.fixture(scope="session")
def seed(template) -> Dict[str, Any]:
    seed_file = template["Metadata"]["chaosthundra"]["seed"]
    return json.loads((FUNCTIONS_DIR / seed_file).read_text(encoding="utf-8"))


# --- servers ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(sandbox):
    """A database of its own in the sandbox's redis-server (the tests here flush it)."""
    return sandbox.redis_url.rsplit("/", 1)[0] + "/15"


@pytest.fixture()
def cache(redis_url, seed):
    """The Redis cache, holding exactly the seed's entries."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    for key, value in seed["redis"].items():
        client.set(key, value)
    yield client
    client.close()


# --- running functions in the sandbox ------------------------------------------------

# An invoke runs the function once: no SDK retries, and a read timeout past any Timeout.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=70, connect_timeout=5)


@pytest.fixture(scope="session")
def aws(sandbox):
    """Clients for the sandbox, signed with its dummy credentials."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=sandbox.region
    )

    def client(service: str):
        return session.client(service, endpoint_url=sandbox.endpoint_url, config=NO_RETRIES)

    return client


def function_log(logs, name: str) -> str:
    """Every line a function wrote, from CloudWatch Logs (LogType=Tail gives only the last
    4 KB, less than one report line of the agent)."""
    group = f"/aws/lambda/{name}"
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return ""
    lines = []
    for stream in streams:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        lines += [event["message"] for event in events]
    return "\n".join(lines)


@dataclass
class Outcome:
    """What one execution environment did: one record per event, and its log."""

    invocations: List[Dict[str, Any]]
    log: str

    @property
    def only(self) -> Dict[str, Any]:
        assert len(self.invocations) == 1, self.invocations
        return self.invocations[0]


def record(response: Dict[str, Any]) -> Dict[str, Any]:
    """One invoke's answer: {"result", "durationMs"}, the error payload with "durationMs",
    or {"timedOut": True, "errorMessage": "Task timed out after N.NN seconds"}."""
    payload = json.loads(response["Payload"].read() or b"null")
    tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    duration = re.search(r"REPORT RequestId: \S+\tDuration: ([0-9.]+) ms", tail)
    duration_ms = float(duration.group(1)) if duration else None
    if not response.get("FunctionError"):
        return {"result": payload, "durationMs": duration_ms}
    timed_out = re.search(r"Task timed out after [0-9.]+ seconds", payload.get("errorMessage", ""))
    if timed_out:
        return {"timedOut": True, "errorMessage": timed_out.group(0)}
    return {**payload, "durationMs": duration_ms}


class Environment:
    """One execution environment: a fresh copy of a function, invoked with each event in
    turn from a thread of its own (several can run at once)."""

    def __init__(self, aws, name: str, events: List[Any]) -> None:
        self.name = name
        self._aws = aws
        self._records: List[Dict[str, Any]] = []
        self._thread = threading.Thread(target=self._invoke_all, args=(events,), daemon=True)
        self._error: Optional[BaseException] = None
        self._thread.start()

    def _invoke_all(self, events: List[Any]) -> None:
        lam = self._aws("lambda")
        try:
            for event in events:
                response = lam.invoke(
                    FunctionName=self.name, Payload=json.dumps(event), LogType="Tail"
                )
                self._records.append(record(response))
        except BaseException as error:  # noqa: BLE001 - reported by wait()
            self._error = error

    def wait(self, limit: float = 60) -> Outcome:
        self._thread.join(limit)
        assert not self._thread.is_alive(), f"{self.name}: invokes not done in {limit} s"
        if self._error is not None:
            raise self._error
        return Outcome(self._records, function_log(self._aws("logs"), self.name))


def copy_function(
    aws, template_name: str, variables: Dict[str, str], timeout: Optional[float] = None
) -> str:
    """A new function with the deployed package, handler and runtime of ``template_name``
    and these variables (a new function: a new execution environment)."""
    lam = aws("lambda")
    deployed = lam.get_function(FunctionName=template_name)
    config = deployed["Configuration"]
    with urllib.request.urlopen(deployed["Code"]["Location"], timeout=30) as answer:
        code = answer.read()
    name = f"{template_name}-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Role=config["Role"],
        Runtime=config["Runtime"],
        Handler=config["Handler"],
        Code={"ZipFile": code},
        Timeout=timeout or config["Timeout"],
        MemorySize=config["MemorySize"],
        Environment={"Variables": variables},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


@pytest.fixture()
def lambdas(specs, aws, redis_url):
    """Start functions of the template: ``lambdas.start(name, events, ...)`` returns an
    Environment; ``lambdas.run(...)`` waits for it. ``redis`` replaces the Redis URL,
    ``upstream`` the name of the function the callers invoke, ``extra_env`` adds
    variables, ``timeout`` replaces the Timeout (seconds)."""

    created: List[str] = []

    class Lambdas:
        def start(
            self,
            name: str,
            events: List[Any],
            *,
            redis: Optional[str] = None,
            upstream: Optional[str] = None,
            extra_env: Optional[Dict[str, str]] = None,
            timeout: Optional[float] = None,
        ) -> Environment:
            deployed = aws("lambda").get_function_configuration(FunctionName=name)
            parameters = {"RedisUrl": redis or redis_url, "ThundraApiKey": "chaosthundra-dummy"}
            variables = {
                **deployed.get("Environment", {}).get("Variables", {}),
                **specs[name].environment(parameters),
                **({"UPSTREAM_FUNCTION": upstream} if upstream else {}),
                **(extra_env or {}),
            }
            copy = copy_function(aws, name, variables, timeout)
            created.append(copy)
            return Environment(aws, copy, events)

        def run(self, name: str, events: List[Any], **kwargs: Any) -> Outcome:
            return self.start(name, events, **kwargs).wait()

    yield Lambdas()
    delete_functions(aws, created)


def delete_functions(aws, names: List[str]) -> None:
    """Delete the test's functions: the sandbox ends their execution environments."""
    lam = aws("lambda")
    for name in names:
        lam.delete_function(FunctionName=name)


UPSTREAM_CODE = """
import json, os, time

def handler(event, context):
    print("CALLED BY " + json.dumps(event))
    time.sleep(float(os.environ["DELAY_S"]))
    return json.loads(os.environ["ANSWER"])
"""
UPSTREAM_ANSWER = {"answer": 42, "from": "upstream-lambda"}


@dataclass
class Upstream:
    """An upstream function in the sandbox: it logs who called it, waits ``delay``
    seconds, then answers ``UPSTREAM_ANSWER`` (or runs into its own Timeout)."""

    name: str
    logs: Any = field(repr=False)

    def calls(self) -> List[Dict[str, Any]]:
        """The events it was invoked with, from its log."""
        return [
            json.loads(line.split("CALLED BY ", 1)[1])
            for line in function_log(self.logs, self.name).splitlines()
            if "CALLED BY " in line
        ]

    def finished(self) -> int:
        """How many of its invocations have ended (their REPORT line is logged)."""
        return function_log(self.logs, self.name).count("REPORT RequestId:")


@pytest.fixture()
def upstream(sandbox, aws):
    """``upstream(delay=0, timeout=4)``: a new upstream function for the callers."""

    created: List[str] = []

    def make(delay: float = 0.0, timeout: int = 4) -> Upstream:
        variables = {"DELAY_S": str(delay), "ANSWER": json.dumps(UPSTREAM_ANSWER)}
        name = create_function(
            sandbox.configuration(),
            "upstream",
            {"app.py": UPSTREAM_CODE},
            Timeout=timeout,
            Environment={"Variables": variables},
        )
        created.append(name)
        return Upstream(name, aws("logs"))

    yield make
    delete_functions(aws, created)
