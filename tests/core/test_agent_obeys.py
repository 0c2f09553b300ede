"""The configs the actions write are the ones each agent generation obeys.

For each case an action writes a listener config to a function (in moto), for the
agent named by the configuration key; that exact variable value is then given to a
real agent-wrapped handler, run in a child interpreter whose only packages are the
agent's package (built as for a function) and the runtime's boto3, against a real
redis-server and a real HTTP Lambda endpoint.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from chaosthundra import actions
from chaosthundra.agents import CATCHPOINT, THUNDRA
from chaosthundra.listeners import is_ours
from chaosthundra.sandbox.packages import install_requirements, runtime_packages
from chaosthundra.sandbox.redis_server import RedisServer
from chaosthundra.targets.latest import variables_of

HARNESS = Path(__file__).with_name("agent_harness.py")
REQUIREMENTS = {
    THUNDRA: "thundra==2.7.4\nredis>=5.0,<9\n",
    CATCHPOINT: "thundra==3.0.10\nredis>=5.0,<9\n",
}


@pytest.fixture(scope="module", params=[THUNDRA, CATCHPOINT], ids=lambda p: p.name)
def agent(request):
    """(profile, PYTHONPATH of its package and the runtime's boto3)."""
    package = install_requirements(REQUIREMENTS[request.param])
    return request.param, os.pathsep.join([str(package), str(runtime_packages())])


@pytest.fixture
def agent_configuration(configuration, agent):
    return {**configuration, "chaosthundra_agent": agent[0].name}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on loopback, started the way the sandbox starts its own."""
    import redis

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    redis.Redis.from_url(server.url).set("user:1", "cached")
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def upstream_endpoint():
    """A real HTTP server answering the Lambda Invoke route instantly."""

    @Request.application
    def app(request: Request) -> Response:
        return Response(json.dumps({"ok": True}), content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def _written_value(lam, name: str) -> dict:
    return {
        k: v
        for k, v in variables_of(lam.get_function_configuration(FunctionName=name)).items()
        if is_ours(k)
    }


def _run(calls: list, listener_env: dict, redis_url: str, upstream: str, agent) -> list:
    """Run ``calls`` ((handler, event) pairs) in one new agent process; their results."""
    assert all(agent[0].reads(key) for key in listener_env)  # written for this agent
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": agent[1],
        "REDIS_URL": redis_url,
        "UPSTREAM_ENDPOINT": upstream,
        "AWS_LAMBDA_FUNCTION_NAME": "under-test",
        "AWS_REGION": "us-east-1",
        "THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE": "true",
        **listener_env,
    }
    proc = subprocess.run(
        [sys.executable, "-S", str(HARNESS), json.dumps(calls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return [
        json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"error_type"')
    ]


def test_error_injection_raises_redis_connection_error_on_get_only(
    make_function, lam, agent_configuration, redis_url, upstream_endpoint, agent
):
    name = make_function()
    actions.enable_error_injection(
        name,
        error_type="redis.ConnectionError",
        error_message="injected by test",
        class_name="Redis",
        tags={"redis.command.type": "GET"},
        configuration=agent_configuration,
    )
    env = _written_value(lam, name)
    calls = [("redis_get", {"key": "user:1"}), ("redis_set", {"key": "user:2"})]
    get, put = _run(calls, env, redis_url, upstream_endpoint, agent)
    assert get["error_type"] == "redis.exceptions.ConnectionError"
    assert get["error_message"] == "injected by test"
    assert get["injected"] is None or get["injected"][0]["type"] == "error_injector_span_listener"
    assert put["error_type"] is None and put["result"] is True and not put["injected"]

    (clean,) = _run(calls[:1], {}, redis_url, upstream_endpoint, agent)
    assert clean["result"] == "cached"


def test_every_n_raises_on_exactly_one_call_in_n(
    make_function, lam, agent_configuration, redis_url, upstream_endpoint, agent
):
    name = make_function()
    actions.enable_error_injection(
        name,
        error_type="redis.ConnectionError",
        class_name="Redis",
        every=3,
        configuration=agent_configuration,
    )
    results = _run(
        [("redis_get", {"key": "user:1"})] * 9,
        _written_value(lam, name),
        redis_url,
        upstream_endpoint,
        agent,
    )
    failed = [i for i, r in enumerate(results) if r["error_type"]]
    assert failed == [2, 5, 8]


def test_latency_injection_delays_the_upstream_invoke_by_the_configured_ms(
    make_function, lam, agent_configuration, redis_url, upstream_endpoint, agent
):
    name = make_function()
    delay = 400
    actions.enable_latency_injection(
        name,
        delay=delay,
        class_name="AWS-Lambda",
        tags={"aws.lambda.name": "upstream-lambda"},
        configuration=agent_configuration,
    )
    env = _written_value(lam, name)
    upstream = [("invoke", {"target": "upstream-lambda"})] * 3
    calls = upstream + [("invoke", {"target": "other-lambda"})] * 3
    results = _run(calls, env, redis_url, upstream_endpoint, agent)
    baseline = _run(upstream, {}, redis_url, upstream_endpoint, agent)

    slow, other = results[:3], results[3:]
    assert all(r["error_type"] is None for r in results)
    for r in slow:
        assert r["result"] >= delay
        assert r["injected"] is None or r["injected"][0]["injected_delay"] == delay
    # only the upstream-lambda span is delayed, not another function's invoke
    assert all(not r["injected"] for r in other)
    assert max(r["result"] for r in other) < delay
    # the delay comes on top of the call's own time (medians of separate samples: 5% slack)
    extra = statistics.median(r["result"] for r in slow) - statistics.median(
        r["result"] for r in baseline
    )
    assert delay * 0.95 <= extra < delay + 1000


def test_compressed_config_is_obeyed_too(
    make_function, lam, agent_configuration, redis_url, upstream_endpoint, agent
):
    name = make_function({"BIG": "x" * 3500})
    result = actions.enable_error_injection(
        name,
        error_type="TimeoutError",
        error_message="slow cache " * 50,
        class_name="Redis",
        configuration=agent_configuration,
    )
    assert result["encoding"] == "gzip+base64"
    env = _written_value(lam, name)
    (get,) = _run([("redis_get", {"key": "user:1"})], env, redis_url, upstream_endpoint, agent)
    assert get["error_type"] == "builtins.TimeoutError"
