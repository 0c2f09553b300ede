"""Fixtures for the example functions: the session's sandbox (``tests/conftest.py``:
a real redis-server and moto's DynamoDB, with functions/template.yaml and its seed
deployed), a stub of the Lambda invoke route, and a small local Lambda runtime.

Everything listens on 127.0.0.1 only. Handlers never run in the pytest process: each
function runs in its own subprocess (``lambda_runner.py``), because the Thundra agent
patches modules and reads its configuration, span listeners included, at import.
A function's handler, timeout and environment are taken from functions/template.yaml,
so the tests exercise the template's wiring too.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import redis
import yaml
from fn_support import FUNCTIONS_DIR, TEMPLATE_PATH
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

RUNNER = Path(__file__).resolve().parent / "lambda_runner.py"
REGION = "us-east-1"
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}

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


@pytest.fixture(scope="session")
def aws_endpoint(sandbox):
    """The sandbox's AWS endpoint: it deployed the template's tables and the seed."""
    return sandbox.endpoint_url


class LambdaInvokeStub:
    """A real HTTP server answering Lambda's Invoke route (POST
    /2015-03-31/functions/<name>/invocations), as upstream-lambda would: after
    ``delay`` seconds, with ``payload`` and, if set, the X-Amz-Function-Error header.
    moto cannot run function code without Docker; this stands in for the upstream."""

    ROUTE = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")

    def __init__(self) -> None:
        self.reset()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def reset(self) -> None:
        self.delay = 0.0
        self.payload: Any = {"answer": 42, "from": "upstream-lambda"}
        self.function_error: Optional[str] = None
        self.calls: List[Dict[str, Any]] = []

    def _app(self, environ, start_response):
        request = Request(environ)
        match = self.ROUTE.fullmatch(request.path)
        if request.method != "POST" or not match:
            body = json.dumps({"message": f"not stubbed: {request.method} {request.path}"})
            return Response(body, 404, content_type="application/json")(environ, start_response)
        self.calls.append(
            {
                "function": match["name"],
                "invocationType": request.headers.get("X-Amz-Invocation-Type"),
                "payload": json.loads(request.get_data() or b"null"),
            }
        )
        time.sleep(self.delay)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if self.function_error:
            headers["X-Amz-Function-Error"] = self.function_error
        response = Response(
            json.dumps(self.payload), 200, headers=headers, content_type="application/json"
        )
        return response(environ, start_response)

    def __enter__(self) -> "LambdaInvokeStub":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def _lambda_stub_server():
    with LambdaInvokeStub() as stub:
        yield stub


@pytest.fixture()
def lambda_stub(_lambda_stub_server):
    """The Lambda invoke stub, answering at once with upstream-lambda's answer."""
    _lambda_stub_server.reset()
    return _lambda_stub_server


# --- running functions ----------------------------------------------------------------


@dataclass
class Outcome:
    """What one execution environment did: one record per event, and its log."""

    invocations: List[Dict[str, Any]]
    log: str

    @property
    def only(self) -> Dict[str, Any]:
        assert len(self.invocations) == 1, self.invocations
        return self.invocations[0]


class Environment:
    """One function's execution environment: a runner subprocess fed with events."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Dict[str, str],
        events: List[Any],
        timeout: float,
        results_path: Path,
    ) -> None:
        self._results_path = results_path
        events_path = results_path.with_suffix(".events.json")
        events_path.write_text(json.dumps(events), encoding="utf-8")
        with events_path.open("rb") as stdin:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    str(RUNNER),
                    str(spec.code_dir),
                    spec.handler,
                    spec.name,
                    str(timeout),
                    str(results_path),
                ],
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                text=True,
            )

    def wait(self, limit: float = 60) -> Outcome:
        try:
            log, _ = self._proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            log, _ = self._proc.communicate()
            raise AssertionError(f"runner did not finish in {limit} s; log:\n{log}") from None
        lines = self._results_path.read_text(encoding="utf-8").splitlines()
        return Outcome([json.loads(line) for line in lines], log)


@pytest.fixture()
def lambdas(specs, tmp_path, redis_url, aws_endpoint):
    """Start functions of the template: ``lambdas.start(name, events, ...)`` returns an
    Environment (several can run at once); ``lambdas.run(...)`` waits for it."""

    class Lambdas:
        counter = 0

        def start(
            self,
            name: str,
            events: List[Any],
            *,
            endpoint_url: Optional[str] = None,
            redis: Optional[str] = None,
            extra_env: Optional[Dict[str, str]] = None,
            timeout: Optional[float] = None,
        ) -> Environment:
            spec = specs[name]
            parameters = {"RedisUrl": redis or redis_url, "ThundraApiKey": "chaosthundra-dummy"}
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
                "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": endpoint_url or aws_endpoint,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                **spec.environment(parameters),
                **(extra_env or {}),
            }
            Lambdas.counter += 1
            results = tmp_path / f"results-{Lambdas.counter}-{name}.jsonl"
            return Environment(spec, env, events, timeout or spec.timeout, results)

        def run(self, name: str, events: List[Any], **kwargs: Any) -> Outcome:
            return self.start(name, events, **kwargs).wait()

    return Lambdas()
