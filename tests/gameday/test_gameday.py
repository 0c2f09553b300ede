"""`chaosthundra gameday`: exit codes, marked mismatches, clear errors, a report that renders."""

from __future__ import annotations

import html
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
    for experiment, function, expect, *run_name in runs:
        lines += [f"  - name: {run_name[0]}"] if run_name else []
        lines += [
            f"  {'  ' if run_name else '- '}experiment: {REPO / 'experiments' / experiment}",
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
    """One gameday whose second expectation is wrong: user-get keeps its SLO (holds), the
    plan says deviated. The SLO run invokes nothing during its method."""
    tmp = tmp_path_factory.mktemp("gameday")
    plan = _plan(
        tmp,
        [
            ("redis-failure.json", "user-get-naive", "deviated"),
            ("redis-slo.json", "user-get", "deviated"),
        ],
    )
    result = _gameday(plan, tmp / "report", sandbox)
    return result, tmp / "report"


@pytest.mark.e2e
def test_matching_plan_exits_0(tmp_path, sandbox):
    name = "redis-failure on user-get, the cache failing on every GET, traffic percentage 20"
    plan = _plan(tmp_path, [("redis-failure.json", "user-get", "held", name)])
    result = _gameday(plan, tmp_path / "report", sandbox)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[1/1] {name} ... held (as expected)" in result.stdout
    assert "1/1 matched expectations" in result.stdout
    # the journal is named after the whole run name (it used to lose what was past 60)
    slug = "redis-failure-on-user-get-the-cache-failing-on-every-get-traffic-percentage-20"
    assert [p.name for p in (tmp_path / "report" / "journals").glob("*.json")] == [
        f"01-{slug}.json"
    ]


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
    page = (report / "report.html").read_text()
    assert "<script" not in page  # the report itself runs nothing
    # a copy with one script that measures the page as Chromium laid it out
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", _MEASURE + "</body>"))
    chromium_warmed.wait(timeout=120)  # not two browsers at once
    flags = _chromium_flags(str(tmp_path / "profile"))
    shot = tmp_path / "report.png"
    # one browser start: the DOM once scripts ran, and a screenshot of the same page
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", f"--screenshot={shot}", "--window-size=1200,1600"]
        + [measured.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    # every run is listed, each with its two charts and their data points
    sections = re.findall(r'<section class="run" id="run-\d".*?</section>', rendered, re.S)
    assert len(sections) == 2
    assert len(re.findall(r"<svg", rendered)) == 4
    points = re.findall(r'class="point"[^>]*data-ms="([0-9.]+)"', rendered)
    journals = [json.loads(p.read_text()) for p in sorted((report / "journals").glob("*.json"))]
    from chaosthundra.gameday.report import faults_left_on, invocations

    assert len(points) == sum(len(invocations(j)) for j in journals) > 0
    bars = re.findall(r'class="bar"[^>]*data-phase="(\w+)" data-rate="([0-9.]+)"', rendered)
    # the SLO run invoked nothing during its method: no bar there, and no 0% either
    assert [phase for phase, _ in bars] == ["before", "during", "after", "before", "after"]
    assert float(bars[1][1]) == 1.0  # naive run: every invoke during the method failed
    slo = sections[1]
    assert re.findall(r'class="no-invokes" data-phase="(\w+)"', slo) == ["during"]
    assert re.search(r">no invokes</text>", slo)
    # both methods leave their fault on for the steady state after (the rollback removes
    # it): said so, in the table and the charts, and never in the green of "after"
    assert faults_left_on(journals[0]) == ["redis_get on user-get-naive"]
    assert len(re.findall(r'data-fault-on-after="yes"', rendered)) == 2
    assert rendered.count("NOT met, fault still on") == 1
    assert rendered.count("met, fault still on") == 2
    for section in sections:
        assert "fault still on</text>" in section
        assert "#3c9d5d" not in section
    # every chart label inside its chart (a y label of 1000 ms and up was cut on the left),
    # every journal name whole, on one line
    layout = json.loads(html.unescape(re.search(r'data-layout="([^"]*)"', rendered).group(1)))
    assert layout["labels"] > 20
    assert layout["clipped"] == []
    assert sorted(layout["journals"]) == [
        [p.name, 1] for p in sorted((report / "journals").glob("*.json"))
    ]
    assert shot.stat().st_size > 20_000


# Finds every SVG text that reaches outside its chart, and how many lines each journal
# name takes; the result goes to <body data-layout>, which --dump-dom prints.
_MEASURE = """<script>
const layout = {labels: 0, clipped: [], journals: []};
for (const svg of document.querySelectorAll("svg")) {
  const box = svg.viewBox.baseVal;
  for (const text of svg.querySelectorAll("text")) {
    const b = text.getBBox();
    layout.labels += 1;
    if (b.x < 0 || b.y < 0 || b.x + b.width > box.width || b.y + b.height > box.height) {
      layout.clipped.push([text.textContent, b.x, b.y, b.width]);
    }
  }
}
for (const code of document.querySelectorAll("code.journal")) {
  layout.journals.push([code.textContent, code.getClientRects().length]);
}
document.body.setAttribute("data-layout", JSON.stringify(layout));
</script>"""


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
