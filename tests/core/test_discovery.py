"""Discovery: what `chaos discover chaosthundra` shows users is pinned here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chaosthundra import actions, probes
from chaosthundra.discovery import discover, discover_system
from chaosthundra.load import probes as load_probes

ACTIONS = {
    "enable_error_injection": [
        ("function_name", "string"),
        ("error_type", "string"),
        ("error_message", "string"),
        ("class_name", "string"),
        ("operation_name", "string"),
        ("domain_name", "string"),
        ("tags", "mapping"),
        ("inject_on_finish", "boolean"),
        ("every", "integer"),
        ("injection_name", "string"),
        ("verify", "object"),
        ("qualifier", "string"),
        ("traffic_percentage", "number"),
        ("force", "boolean"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "disable_error_injection": [
        ("function_name", "string"),
        ("injection_name", "string"),
        ("qualifier", "string"),
        ("force", "boolean"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "enable_latency_injection": [
        ("function_name", "string"),
        ("delay", "integer"),
        ("variation", "integer"),
        ("sigma", "integer"),
        ("distribution", "string"),
        ("class_name", "string"),
        ("operation_name", "string"),
        ("domain_name", "string"),
        ("tags", "mapping"),
        ("injection_name", "string"),
        ("verify", "object"),
        ("qualifier", "string"),
        ("traffic_percentage", "number"),
        ("force", "boolean"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "disable_latency_injection": [
        ("function_name", "string"),
        ("injection_name", "string"),
        ("qualifier", "string"),
        ("force", "boolean"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "remove_all_injections": [
        ("function_name", "string"),
        ("qualifier", "string"),
        ("force", "boolean"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
}
PROBES = {
    "invoke_function": [
        ("function_name", "string"),
        ("payload", "object"),
        ("qualifier", "string"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "invocation_succeeds": [
        ("function_name", "string"),
        ("payload", "object"),
        ("qualifier", "string"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "invocation_completes_within": [
        ("function_name", "string"),
        ("seconds", "number"),
        ("payload", "object"),
        ("qualifier", "string"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "injected_span_count": [
        ("function_name", "string"),
        ("since_seconds", "integer"),
        ("kind", "string"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "measure_invocations": [
        ("function_name", "string"),
        ("payload", "object"),
        ("count", "integer"),
        ("concurrency", "integer"),
        ("qualifier", "string"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
    "list_injections": [
        ("function_name", "string"),
        ("qualifier", "string"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
}
LOAD_PROBES = {
    "measure_load": [
        ("function_name", "string"),
        ("payload", "object"),
        ("users", "integer"),
        ("spawn_rate", "number"),
        ("duration", "integer"),
        ("qualifier", "string"),
        ("expect_workers", "integer"),
        ("master_host", "string"),
        ("master_port", "integer"),
        ("rps", "number"),
        ("processes", "integer"),
        ("workers_wait", "integer"),
        ("stop_timeout", "integer"),
        ("web_port", "integer"),
        ("configuration", "mapping"),
        ("secrets", "mapping"),
    ],
}


def _by_name(activities, kind):
    return {
        a["name"]: [(x["name"], x["type"]) for x in a["arguments"]]
        for a in activities
        if a["type"] == kind
    }


def test_all_is_pinned():
    assert sorted(actions.__all__) == sorted(ACTIONS)
    assert sorted(probes.__all__) == sorted(PROBES)
    assert sorted(load_probes.__all__) == sorted(LOAD_PROBES)


def test_discovered_activities_arguments_and_types():
    found = discover(discover_system=False)["activities"]
    assert _by_name(found, "action") == ACTIONS
    assert _by_name(found, "probe") == {**PROBES, **LOAD_PROBES}
    for activity in found:
        assert activity["doc"] and activity["doc"].split("\n")[0].endswith("."), activity["name"]
    docs = {a["name"]: a["doc"] for a in found}
    assert "disable_error_injection" in docs["enable_error_injection"]
    assert "disable_latency_injection" in docs["enable_latency_injection"]
    assert "milliseconds" in docs["enable_latency_injection"]


def test_discover_system_lists_functions_with_their_injections(make_function, configuration):
    name = make_function()
    actions.enable_error_injection(name, class_name="Redis", configuration=configuration)
    system = discover_system(configuration)
    (fn,) = [f for f in system["functions"] if f["function_name"] == name]
    assert [i["name"] for i in fn["injections"]] == ["error"]
    assert system["region"] == configuration["aws_region"]


def test_chaos_discover_cli(tmp_path: Path):
    chaos = Path(sys.executable).with_name("chaos")
    out = tmp_path / "discovery.json"
    proc = subprocess.run(
        [
            str(chaos),
            "discover",
            "chaosthundra",
            "--no-install",
            "--no-system-info",
            "--discovery-path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(out.read_text())["activities"]
    assert set(_by_name(found, "action")) == set(ACTIONS)
    assert set(_by_name(found, "probe")) == set(PROBES) | set(LOAD_PROBES)
