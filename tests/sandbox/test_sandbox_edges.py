"""Edges of the sandbox found in review (issue 12, item 5), each reproduced here."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from sbx_helpers import invoke, wait_gone

from chaosthundra.sandbox import Sandbox, redis_server, routing
from chaosthundra.sandbox.invoke import MAX_SYNC_PAYLOAD

LOG_READER = "chaosthundra-log-"


def test_chunked_body_over_6_mb_is_refused(sandbox: Sandbox, lambda_client: Any) -> None:
    body = json.dumps("x" * MAX_SYNC_PAYLOAD).encode()  # 2 bytes over the limit
    connection = http.client.HTTPConnection("127.0.0.1", int(sandbox.endpoint_url.rsplit(":")[-1]))
    try:
        connection.putrequest("POST", "/2015-03-31/functions/sbx-echo/invocations")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Content-Type", "application/json")
        connection.endheaders()
        step = 1024 * 1024
        for start in range(0, len(body), step):
            chunk = body[start : start + step]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert (response.status, response.reason) == (413, "Request Entity Too Large")
    assert response.getheader("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    assert answer["message"] == (
        f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
    )


def test_invokes_keep_their_connection_open_and_an_error_answer_closes_it(
    sandbox: Sandbox, deployed: Any
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(sandbox.endpoint_url.rsplit(":")[-1]))
    # what the sandbox reads of a signature: the key's scope names the region
    authorization = (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/{sandbox.region}/lambda/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )

    def post(name: str, event: dict) -> tuple[int, Any, Any]:
        connection.request(
            "POST",
            f"/2015-03-31/functions/{name}/invocations",
            body=json.dumps(event),
            headers={"Content-Type": "application/json", "Authorization": authorization},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read()), connection.sock

    try:
        answers = [post("sbx-echo", {"n": n}) for n in range(3)]
        assert [(status, body["event"]) for status, body, _ in answers] == [
            (200, {"n": n}) for n in range(3)
        ]
        assert answers[0][2] is not None
        assert all(sock is answers[0][2] for _, _, sock in answers)  # one connection
        status, body, sock = post("sbx-no-such-function", {})
        assert status == 404 and "Function not found" in body["message"]
        assert sock is None  # closed after the error answer
        assert post("sbx-echo", {"n": 3})[:2][1]["event"] == {"n": 3}  # a new connection
    finally:
        connection.close()


def _log_readers() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(LOG_READER)}


def test_log_reader_ends_with_its_environment_when_another_process_holds_the_pipe(
    lambda_client: Any, tmp_path: Path
) -> None:
    # A process the function started in its own session outlives the environment
    # and keeps the write end of the log pipe open. The reader thread must still end
    # with the environment: it must never be left reading a descriptor number that
    # was closed under it (and may be reused for another environment's log).
    pid_file = tmp_path / "holder.pid"
    version = lambda_client.publish_version(FunctionName="sbx-crowd")["Version"]
    before = _log_readers()  # the version is new: its environment starts cold
    event = {"holder": str(pid_file), "exit": 3}
    response = invoke(lambda_client, "sbx-crowd", event, Qualifier=version)
    holder = int(pid_file.read_text())
    try:
        assert response["payload"]["errorType"] == "Runtime.ExitError"
        assert _log_readers() <= before
    finally:
        os.kill(holder, signal.SIGKILL)
        assert wait_gone([holder]) == []


def test_a_request_with_an_old_spec_does_not_retire_fresh_environments(
    sandbox: Sandbox, lambda_client: Any
) -> None:
    name = "sbx-changing"
    invoke(lambda_client, name, {})
    stale = routing.resolve("123456789012", sandbox.region, name, None)
    original = lambda_client.get_function_configuration(FunctionName=name)["Environment"]
    variables = dict(original["Variables"], GREETING=f"fresh-{uuid.uuid4().hex}")
    _update_environment(lambda_client, name, variables)
    try:
        fresh = invoke(lambda_client, name, {})["payload"]
        assert fresh["greeting"] == variables["GREETING"]
        # A request that read the configuration before the update reaches the pool
        # now. (Invoker.run is where a request takes an environment; no HTTP request
        # can be held from outside between its read and that point.)
        old = sandbox._invoker.run(stale, b"{}", None, str(uuid.uuid4()))
        assert json.loads(old.payload)["greeting"] == original["Variables"]["GREETING"]
        again = invoke(lambda_client, name, {})["payload"]
        assert again["greeting"] == variables["GREETING"]
        assert again["env_id"] == fresh["env_id"] and again["cold"] is False
    finally:
        _update_environment(lambda_client, name, original["Variables"])


def _update_environment(client: Any, name: str, variables: dict[str, str]) -> None:
    client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_redis_readiness_ignores_a_pong_from_another_server(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The port chosen for our redis-server is taken meanwhile by another Redis
    # (the session sandbox's): its PONG must not be taken for ours.
    taken = int(sandbox.redis_url.rsplit(":", 1)[1].split("/")[0])
    ports = iter([taken, redis_server._free_port()])
    monkeypatch.setattr(redis_server, "_free_port", lambda: next(ports))
    server = redis_server.RedisServer(tmp_path / "redis")
    server.start()
    try:
        assert server.port != taken
        with redis.Redis(port=server.port) as client:
            pid = client.info("server")["process_id"]
        assert _parent(pid) == server.pid  # the redis-server our guard started
    finally:
        server.stop()


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
