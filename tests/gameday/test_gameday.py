"""`chaosthundra gameday`: exit codes, marked mismatches, clear errors, a report that renders."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("chaosthundra"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _plan(tmp_path: Path, runs: list, name: str = "plan.yaml") -> Path:
    lines = ["title: test gameday", "runs:"]
    for experiment, function, expect in runs:
        lines += [
            f"  - experiment: {REPO / 'experiments' / experiment}",
            f"    vars: {{function_name: {function}}}",
            f"    expect: {expect}",
        ]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _gameday(plan: Path, report: Path, sandbox=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("CHAOSTHUNDRA_TARGET", None)
    if sandbox is not None:
        env["CHAOSTHUNDRA_SANDBOX_URL"] = sandbox.endpoint_url
    return subprocess.run(
        [CLI, "gameday", str(plan), "--report", str(report)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _chromium_flags(profile: str) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


@pytest.fixture(scope="module", autouse=True)
def chromium_warmed(tmp_path_factory):
    """A first Chromium start while this module's gamedays run. A machine that pages
    out files idle for a minute (this one's DAMON reclaim does) makes a cold start
    read Chromium's ~300 MB from disk: 2 to 30 s, spent here in parallel instead of
    inside the report test."""
    if CHROMIUM is None:
        yield None
        return
    profile = str(tmp_path_factory.mktemp("chromium-warm"))
    warm = subprocess.Popen(
        [CHROMIUM, *_chromium_flags(profile), "--dump-dom", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield warm
    finally:
        if warm.poll() is None:
            warm.kill()
        warm.wait()


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory, sandbox):
    """One gameday whose second expectation is wrong: user-get holds, plan says deviated."""
    tmp = tmp_path_factory.mktemp("gameday")
    plan = _plan(
        tmp,
        [
            ("redis-failure.json", "user-get-naive", "deviated"),
            ("redis-failure.json", "user-get", "deviated"),
        ],
    )
    result = _gameday(plan, tmp / "report", sandbox)
    return result, tmp / "report"


@pytest.mark.e2e
def test_matching_plan_exits_0(tmp_path, sandbox):
    plan = _plan(tmp_path, [("redis-failure.json", "user-get", "held")])
    result = _gameday(plan, tmp_path / "report", sandbox)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[1/1] redis-failure function_name=user-get ... held (as expected)" in result.stdout
    assert "1/1 matched expectations" in result.stdout


@pytest.mark.e2e
def test_wrong_expectation_exits_1_and_marks_the_row(mismatched):
    result, report = mismatched
    assert result.returncode == 1, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"^\d+\s", line)]
    assert len(rows) == 2
    assert "weakness found  weakness found  ok" in rows[0]
    assert "held" in rows[1] and "<< MISMATCH" in rows[1]
    assert "1/2 matched expectations" in result.stdout
    journals = sorted((report / "journals").glob("*.json"))
    assert [json.loads(j.read_text())["deviated"] for j in journals] == [True, False]


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "does not exist"),
        (
            "runs:\n  - experiment: EXPERIMENT\n    expect: held\n    when: now\n",
            "unknown field(s) 'when'",
        ),
        (
            "runs:\n  - experiment: EXPERIMENT\n    expect: fine\n",
            "'expect' must be one of held, deviated, got 'fine'",
        ),
        (
            "runs:\n  - experiment: experiments/nope.json\n    expect: held\n",
            "experiment file 'experiments/nope.json' does not exist",
        ),
        ("runs: []\n", "'runs' must be a non-empty list"),
        ("title: [unclosed\n", "not valid YAML"),
        (
            "runs:\n  - experiment: EXPERIMENT\n    vars: [1]\n    expect: held\n",
            "'vars' must be a mapping",
        ),
    ],
    ids=[
        "missing-file",
        "unknown-field",
        "bad-expectation",
        "missing-experiment",
        "no-runs",
        "bad-yaml",
        "bad-vars",
    ],
)
def test_bad_plan_is_a_clear_usage_error(tmp_path, content, message):
    plan = tmp_path / "plan.yaml"
    if content is not None:
        plan.write_text(
            content.replace("EXPERIMENT", str(REPO / "experiments" / "redis-failure.json"))
        )
    result = _gameday(plan, tmp_path / "report")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "report").exists()


@pytest.mark.e2e
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CHAOSTHUNDRA_REQUIRE_CHROMIUM"),
    reason="needs Debian's chromium; .ci/run installs it and sets CHAOSTHUNDRA_REQUIRE_CHROMIUM",
)
def test_report_renders_in_headless_chromium(mismatched, chromium_warmed, tmp_path):
    assert CHROMIUM, "chromium is required here but not installed"
    _, report = mismatched
    html = report / "report.html"
    chromium_warmed.wait(timeout=120)  # not two browsers at once
    flags = _chromium_flags(str(tmp_path / "profile"))
    shot = tmp_path / "report.png"
    # one browser start: the DOM once scripts ran, and a screenshot of the same page
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", f"--screenshot={shot}", "--window-size=1200,1600"]
        + [html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    # every run is listed, each with its two charts and their data points
    assert len(re.findall(r'<section class="run"', rendered)) == 2
    assert len(re.findall(r"<svg", rendered)) == 4
    points = re.findall(r'class="point"[^>]*data-ms="([0-9.]+)"', rendered)
    journals = [json.loads(p.read_text()) for p in sorted((report / "journals").glob("*.json"))]
    from chaosthundra.gameday.report import invocations

    assert len(points) == sum(len(invocations(j)) for j in journals) > 0
    bars = re.findall(r'class="bar"[^>]*data-rate="([0-9.]+)"', rendered)
    assert len(bars) == 6
    assert float(bars[1]) == 1.0  # naive run: every invoke during the method failed
    assert shot.stat().st_size > 20_000


@pytest.mark.e2e
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CHAOSTHUNDRA_REQUIRE_CHROMIUM"),
    reason="needs Debian's chromium; .ci/run installs it and sets CHAOSTHUNDRA_REQUIRE_CHROMIUM",
)
def test_the_locust_load_is_drawn_over_time(tmp_path, sandbox, chromium_warmed):
    """redis-slo-load.json: measure_load before, in the background of the method, and
    after; the report draws each load's invokes and errors per second."""
    plan = _plan(tmp_path, [("redis-slo-load.json", "user-get-naive", "deviated")])
    result = _gameday(plan, tmp_path / "report", sandbox)
    assert result.returncode == 0, result.stdout + result.stderr
    chromium_warmed.wait(timeout=120)
    shot = tmp_path / "load.png"
    dom = subprocess.run(
        [CHROMIUM, *_chromium_flags(str(tmp_path / "profile")), "--dump-dom"]
        + [f"--screenshot={shot}", "--window-size=1200,900"]
        + [(tmp_path / "report" / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    drawn = {
        (kind, phase): [float(v) for v in values.split(",")]
        for kind, phase, values in re.findall(
            r'class="load-(rps|errors)" data-phase="(\w+)" data-values="([0-9.,e+-]*)"', dom.stdout
        )
    }
    (journal,) = [
        json.loads(p.read_text()) for p in (tmp_path / "report" / "journals").glob("*.json")
    ]
    from chaosthundra.gameday.report import load_series

    expected = {
        (kind, s["phase"]): [p[key] for p in s["points"]]
        for s in load_series(journal)
        for kind, key in (("rps", "rps"), ("errors", "errors_per_s"))
    }
    assert drawn == expected
    assert {phase for _, phase in drawn} == {"before", "during", "after"}
    assert max(drawn[("errors", "before")]) == 0
    assert max(drawn[("errors", "after")]) > 0  # the naive lookup fails with the cache
    assert 'class="load-action"' in dom.stdout  # the injection is marked
    assert shot.stat().st_size > 20_000
