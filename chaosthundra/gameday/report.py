"""A self-contained HTML report of a gameday: no scripts, no external files.

For each run: the outcome against the expectation, a chart of latency per
invoke across the run, a chart of the error rate before/during/after the
method, for runs with Locust load (measure_load) the load over time (invokes and
errors per second, from Locust's stats history) with the method's actions marked,
the timeline of activities with their results, and the injections made
and removed. Charts are inline SVG, so the file reads offline and prints.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

from chaosthundra.gameday.plan import Plan
from chaosthundra.gameday.runner import RunResult

__all__ = ["write_report", "invocations", "load_series", "PHASES"]

PHASES = ("before", "during", "after")
_COLORS = {"before": "#2b7bb9", "during": "#d9822b", "after": "#3c9d5d"}


def write_report(plan: Plan, results: list[RunResult], path: Path) -> Path:
    """Write the report to ``path`` and return it."""
    matched = sum(r.matched for r in results)
    body = [
        f"<h1>{_e(plan.title)}</h1>",
        f"<p>{_e(plan.description)}</p>" if plan.description else "",
        f'<p class="summary">{matched} of {len(results)} run(s) matched expectations; '
        f"plan {_e(str(plan.path))}, generated {datetime.now().isoformat(timespec='seconds')}"
        "</p>",
        _summary_table(results),
    ]
    body.extend(_run_section(r) for r in results)
    path.write_text(_page(plan.title, "\n".join(body)), encoding="utf-8")
    return path


# --------------------------------------------------------------------- data
def _activity_runs(journal: dict) -> Iterable[tuple[str, dict]]:
    states = journal.get("steady_states") or {}
    for record in (states.get("before") or {}).get("probes", []) or []:
        yield "before", record
    for record in journal.get("run", []) or []:
        yield "during", record
    for record in (states.get("after") or {}).get("probes", []) or []:
        yield "after", record
    for record in journal.get("rollbacks", []) or []:
        yield "rollback", record


def invocations(journal: dict) -> list[dict]:
    """Every invoke seen in a journal: phase, duration_ms, ok, timed_out (in order)."""
    points = []
    for phase, record in _activity_runs(journal):
        out = record.get("output")
        if not isinstance(out, dict):
            continue
        if "durations_ms" in out and "outcomes" in out:  # measure_invocations
            for ms, result in zip(out["durations_ms"], out["outcomes"]):
                points.append(
                    {
                        "phase": phase,
                        "duration_ms": ms,
                        "ok": result == "ok",
                        "timed_out": result == "timeout",
                    }
                )
        elif "duration_ms" in out and "status_code" in out:  # invoke_function
            ok = out.get("status_code") == 200 and not out.get("function_error")
            points.append(
                {
                    "phase": phase,
                    "duration_ms": out["duration_ms"],
                    "ok": ok,
                    "timed_out": bool(out.get("timed_out")),
                }
            )
    return [p for p in points if p["phase"] in PHASES]


def load_series(journal: dict) -> list[dict]:
    """Every Locust load in a journal (measure_load's history): its phase, activity name,
    whether its figures are partial, and its points, `x` in seconds since the run began,
    `rps` and `errors_per_s`."""
    start = _time(journal.get("start"))
    series = []
    for phase, record in _activity_runs(journal):
        out = record.get("output")
        if not isinstance(out, dict) or not isinstance(out.get("history"), list):
            continue
        points = [
            {"x": p["at"] - start, "rps": p["rps"], "errors_per_s": p["errors_per_s"]}
            for p in out["history"]
            if start is not None and "at" in p
        ]
        if points and phase in PHASES:
            name = (record.get("activity") or {}).get("name", "")
            series.append(
                {
                    "phase": phase,
                    "name": name,
                    "partial": bool(out.get("partial")),
                    "points": points,
                }
            )
    return series


def _injections(journal: dict) -> list[dict]:
    rows = []
    for phase, record in _activity_runs(journal):
        out = record.get("output")
        if isinstance(out, dict) and "injection_name" in out and "status" in out:
            rows.append(
                {
                    "phase": phase,
                    "function": out.get("function_name"),
                    "injection": out["injection_name"],
                    "kind": out.get("kind"),
                    "event": out["status"],
                    "by": record["activity"].get("name"),
                }
            )
    for removed in (journal.get("chaosthundra") or {}).get("safeguard_removed", []):
        rows.append(
            {
                "phase": "end",
                "function": removed["function_name"],
                "injection": removed["injection_name"],
                "kind": removed.get("kind"),
                "event": "removed",
                "by": "safeguard control",
            }
        )
    return rows


# ------------------------------------------------------------------ sections
def _summary_table(results: list[RunResult]) -> str:
    rows = "".join(
        f'<tr class="{"ok" if r.matched else "mismatch"}"><td>{r.index}</td>'
        f'<td><a href="#run-{r.index}">{_e(r.planned.name)}</a></td>'
        f"<td>{_e(_state(r.steady_state('before')))}</td>"
        f"<td>{_e(_state(r.steady_state('after')))}</td>"
        f"<td>{_e(r.outcome)}</td><td>{_e(r.planned.expect)}</td>"
        f"<td>{'yes' if r.matched else 'NO'}</td><td>{r.duration_s:.1f} s</td></tr>"
        for r in results
    )
    return (
        '<table class="runs"><thead><tr><th>#</th><th>run</th><th>steady state before</th>'
        "<th>after</th><th>outcome</th><th>expected</th><th>matched</th><th>duration</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _run_section(result: RunResult) -> str:
    journal = result.journal or {}
    title = (journal.get("experiment") or {}).get("title", result.planned.name)
    head = (
        f'<section class="run" id="run-{result.index}" data-outcome="{_e(result.outcome)}">'
        f"<h2>{result.index}. {_e(result.planned.name)}</h2>"
        f"<p><b>{_e(title)}</b></p>"
        f"<p>vars: <code>{_e(json.dumps(result.planned.vars))}</code> · expected "
        f"<b>{_e(result.planned.expect)}</b> · outcome <b>{_e(result.outcome)}</b> · "
        f"{result.duration_s:.1f} s"
        + (f" · journal <code>{_e(result.journal_path.name)}</code>" if result.journal_path else "")
        + "</p>"
    )
    if result.error:
        return head + f'<p class="mismatch">could not run: {_e(result.error)}</p></section>'
    points = invocations(journal)
    loads = load_series(journal)
    return "".join(
        [
            head,
            '<div class="charts">',
            _latency_chart(points) if points or not loads else "",
            _error_rate_chart(points, _load_tallies(journal)),
            _load_chart(journal),
            "</div>",
            "<h3>Timeline</h3>",
            _timeline(journal),
            "<h3>Injections</h3>",
            _injection_table(_injections(journal)),
            "</section>",
        ]
    )


def _timeline(journal: dict) -> str:
    start = _time(journal.get("start"))
    rows = []
    for phase, record in _activity_runs(journal):
        activity = record.get("activity", {})
        offset = _time(record.get("start"))
        at = f"+{offset - start:.2f} s" if offset is not None and start is not None else ""
        rows.append(
            f'<tr class="{_e(record.get("status", ""))}"><td>{_e(phase)}</td><td>{at}</td>'
            f"<td>{_e(activity.get('name', ''))}</td><td>{_e(activity.get('type', ''))}</td>"
            f"<td>{_e(record.get('status', ''))}</td>"
            f"<td>{record.get('duration', 0):.2f} s</td>"
            f"<td>{_e(_describe(record))}</td></tr>"
        )
    return (
        '<table class="timeline"><thead><tr><th>phase</th><th>at</th><th>activity</th>'
        "<th>type</th><th>status</th><th>took</th><th>result</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _describe(record: dict) -> str:
    out = record.get("output")
    if record.get("exception"):
        return "".join(record["exception"])[-300:].strip()
    if isinstance(out, dict):
        if "status_code" in out and "duration_ms" in out:
            text = f"HTTP {out['status_code']}, {out['duration_ms']:.0f} ms"
            if out.get("timed_out"):
                text += ", timed out"
            elif out.get("function_error"):
                text += f", function error {out['function_error']}"
            payload = out.get("payload")
            return text + (f": {json.dumps(payload)[:160]}" if payload is not None else "")
        if "error_ratio" in out:
            text = (
                f"{out.get('count')} invokes, error ratio {out['error_ratio']:.3f}, "
                f"p95 {out.get('p95_ms')} ms"
            )
            if "workers" in out:  # measure_load
                text += f", {out.get('rps')}/s on {out['workers']} Locust worker(s)"
                text += f" (asked {out['asked_rps']}/s)" if out.get("asked_rps") else ""
                text += ", PARTIAL: workers missing" if out.get("partial") else ""
            return text
        if "injection_name" in out:
            verified = out.get("verification")
            extra = f", verified on invoke {verified['invocations']}" if verified else ""
            return f"{out['kind']} injection '{out['injection_name']}' {out['status']}{extra}"
    return json.dumps(out, default=str)[:200] if out is not None else ""


def _injection_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>No injection was made.</p>"
    body = "".join(
        f"<tr><td>{_e(r['phase'])}</td><td>{_e(r['function'])}</td><td>{_e(r['injection'])}"
        f"</td><td>{_e(r['kind'])}</td><td>{_e(r['event'])}</td><td>{_e(r['by'])}</td></tr>"
        for r in rows
    )
    return (
        '<table class="injections"><thead><tr><th>phase</th><th>function</th>'
        "<th>injection</th><th>kind</th><th>event</th><th>by</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


# -------------------------------------------------------------------- charts
def _latency_chart(points: list[dict]) -> str:
    width, height, pad = 520, 220, 44
    if not points:
        return (
            '<figure class="chart"><figcaption>Latency per invoke</figcaption>'
            "<p>No invoke in this run.</p></figure>"
        )
    top = max(p["duration_ms"] for p in points) * 1.1 or 1.0
    step = (width - 2 * pad) / max(1, len(points) - 1)
    marks, line = [], []
    for i, p in enumerate(points):
        x = pad + i * step if len(points) > 1 else width / 2
        y = height - pad - (p["duration_ms"] / top) * (height - 2 * pad)
        line.append(f"{x:.1f},{y:.1f}")
        color = "#c0392b" if not p["ok"] else _COLORS[p["phase"]]
        shape = "rect" if p["timed_out"] else "circle"
        label = f"#{i + 1} {p['phase']}: {p['duration_ms']:.0f} ms" + (
            "" if p["ok"] else (" (timed out)" if p["timed_out"] else " (error)")
        )
        if shape == "circle":
            marks.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"'
                f' data-ms="{p["duration_ms"]}"><title>{_e(label)}</title></circle>'
            )
        else:
            marks.append(
                f'<rect class="point" x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" '
                f'height="8" fill="{color}" data-ms="{p["duration_ms"]}">'
                f"<title>{_e(label)}</title></rect>"
            )
    axis = _axes(width, height, pad, f"{top:.0f} ms", "invokes, in order")
    legend = _legend()
    return (
        '<figure class="chart latency"><figcaption>Latency per invoke (ms); red: error, '
        "square: timed out</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">{axis}'
        f'<polyline points="{" ".join(line)}" fill="none" stroke="#999" stroke-width="1"/>'
        f"{''.join(marks)}{legend}</svg></figure>"
    )


def _load_tallies(journal: dict) -> dict:
    """Per phase, (invokes not ok, invokes) of the Locust loads (measure_load)."""
    tallies = {phase: (0, 0) for phase in PHASES}
    for phase, record in _activity_runs(journal):
        out = record.get("output")
        if phase in PHASES and isinstance(out, dict) and "workers" in out and "count" in out:
            failed, total = tallies[phase]
            tallies[phase] = (failed + out["count"] - out.get("ok", 0), total + out["count"])
    return tallies


def _error_rate_chart(points: list[dict], loads: dict) -> str:
    width, height, pad = 300, 220, 44
    bars = []
    slot = (width - 2 * pad) / len(PHASES)
    for i, phase in enumerate(PHASES):
        inphase = [p for p in points if p["phase"] == phase]
        failed = sum(not p["ok"] for p in inphase) + loads[phase][0]
        total = len(inphase) + loads[phase][1]
        rate = failed / total if total else 0.0
        h = rate * (height - 2 * pad)
        x = pad + i * slot + slot * 0.2
        label = f"{phase}: {rate:.0%} of {total} invoke(s)"
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{height - pad - h:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="{_COLORS[phase]}" data-rate="{rate:.4f}" '
            f'data-count="{total}"><title>{_e(label)}</title></rect>'
            f'<text x="{x + slot * 0.3:.1f}" y="{height - pad + 14}" font-size="11" '
            f'text-anchor="middle">{phase}</text>'
            f'<text x="{x + slot * 0.3:.1f}" y="{height - pad - h - 4:.1f}" font-size="11" '
            f'text-anchor="middle">{rate:.0%}</text>'
        )
    axis = _axes(width, height, pad, "100%", "")
    return (
        '<figure class="chart errors"><figcaption>Error rate before / during / after'
        "</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">{axis}{"".join(bars)}</svg></figure>'
    )


def _load_chart(journal: dict) -> str:
    """Invokes (solid, the phase's colour) and errors (dashed, red) per second of each
    Locust load, on the run's clock; dotted lines: the method's actions."""
    series = load_series(journal)
    if not series:
        return ""
    width, height, pad = 520, 220, 44
    right = max(p["x"] for s in series for p in s["points"]) or 1.0
    top = max(max(p["rps"], p["errors_per_s"]) for s in series for p in s["points"]) * 1.1 or 1.0

    def xy(x: float, y: float) -> str:
        return (
            f"{pad + x / right * (width - 1.5 * pad):.1f},"
            f"{height - pad - y / top * (height - 2 * pad):.1f}"
        )

    lines = []
    for s in series:
        title = _e(f"{s['phase']}: {s['name']}" + (" (partial)" if s["partial"] else ""))
        for key, cls, stroke, dash in (
            ("rps", "load-rps", _COLORS[s["phase"]], ""),
            ("errors_per_s", "load-errors", "#c0392b", ' stroke-dasharray="4 3"'),
        ):
            values = [p[key] for p in s["points"]]
            coords = " ".join(xy(p["x"], p[key]) for p in s["points"])
            lines.append(
                f'<polyline class="{cls}" data-phase="{s["phase"]}" '
                f'data-values="{",".join(f"{v:g}" for v in values)}" points="{coords}" '
                f'fill="none" stroke="{stroke}" stroke-width="2"{dash}><title>{title}'
                "</title></polyline>"
            )
    start = _time(journal.get("start"))
    for record in journal.get("run", []) or []:
        at = _time(record.get("end"))  # an action's change is in place once it ended
        activity = record.get("activity") or {}
        if activity.get("type") != "action" or at is None or start is None:
            continue
        x = xy(min(at - start, right), 0).split(",")[0]
        lines.append(
            f'<line class="load-action" x1="{x}" y1="{pad / 2}" x2="{x}" y2="{height - pad}" '
            f'stroke="#555" stroke-dasharray="1 3"><title>{_e(activity.get("name", ""))}'
            "</title></line>"
        )
    axis = _axes(width, height, pad, f"{top:.0f}/s", f"seconds since the run began ({right:.0f})")
    return (
        '<figure class="chart load"><figcaption>Locust load over time: invokes/s (solid) '
        "and errors/s (dashed red); dotted: the method's actions done</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">{axis}{"".join(lines)}{_legend()}'
        "</svg></figure>"
    )


def _axes(width: int, height: int, pad: int, top_label: str, x_label: str) -> str:
    return (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad / 2}" y2="{height - pad}" '
        'stroke="#444"/>'
        f'<line x1="{pad}" y1="{pad / 2}" x2="{pad}" y2="{height - pad}" stroke="#444"/>'
        f'<text x="{pad - 4}" y="{pad}" font-size="10" text-anchor="end">{_e(top_label)}</text>'
        f'<text x="{pad - 4}" y="{height - pad}" font-size="10" text-anchor="end">0</text>'
        f'<text x="{width / 2}" y="{height - 8}" font-size="11" text-anchor="middle">'
        f"{_e(x_label)}</text>"
    )


def _legend() -> str:
    return "".join(
        f'<circle cx="{60 + i * 80}" cy="12" r="4" fill="{_COLORS[p]}"/>'
        f'<text x="{68 + i * 80}" y="16" font-size="11">{p}</text>'
        for i, p in enumerate(PHASES)
    )


# ------------------------------------------------------------------- helpers
def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }}
table {{ border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }}
tr.mismatch td, p.mismatch {{ background: #fde2e1; }}
tr.ok td {{ background: #e6f4ea; }}
tr.failed td {{ color: #a00; }}
.charts {{ display: flex; gap: 1.5rem; flex-wrap: wrap; }}
figure {{ margin: 0; }} figcaption {{ font-size: .85rem; color: #555; }}
section.run {{ border-top: 2px solid #ddd; margin-top: 1.5rem; }}
code {{ background: #f4f4f4; padding: 0 .2rem; }}
</style></head><body>
{body}
</body></html>
"""


def _state(met: Optional[bool]) -> str:
    return "not run" if met is None else ("met" if met else "NOT met")


def _time(value: Any) -> Optional[float]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
