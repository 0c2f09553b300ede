"""A self-contained HTML report of a gameday: no scripts, no external files.

For each run: the outcome against the expectation, a chart of latency per
invoke across the run, a chart of the error rate before/during/after the
method, for runs with Locust load (measure_load) the load over time (invokes and
errors per second, from Locust's stats history) with the method's actions marked,
the timeline of activities with their results, and the injections made
and removed. Charts are inline SVG, so the file reads offline and prints.

This module turns journals into figures and chart geometry; the page itself is the
Jinja2 template ``templates/report.html`` (autoescaped). It runs a little past 400
lines because the three charts' geometry (scales, margins that fit their labels) is
computed here, where it is tested, and not in the template.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

import jinja2

from chaosthundra.gameday.plan import Plan
from chaosthundra.gameday.runner import RunResult

__all__ = ["write_report", "invocations", "load_series", "faults_left_on", "PHASES"]

PHASES = ("before", "during", "after")
_COLORS = {"before": "#2b7bb9", "during": "#d9822b", "after": "#3c9d5d"}
# the steady state after the method, taken while its fault is still in place
_FAULT_ON_COLOR = "#8e44ad"
_ERROR_COLOR = "#c0392b"
_ON = {"enabled", "replaced", "unchanged"}
_OFF = {"disabled", "removed", "absent"}


def write_report(plan: Plan, results: list[RunResult], path: Path) -> Path:
    """Write the report to ``path`` and return it."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("chaosthundra.gameday", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    page = env.get_template("report.html").render(
        title=plan.title,
        description=plan.description,
        plan_path=str(plan.path),
        generated=datetime.now().isoformat(timespec="seconds"),
        matched=sum(r.matched for r in results),
        runs=[_run(r) for r in results],
    )
    path.write_text(page, encoding="utf-8")
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


def faults_left_on(journal: dict) -> list[str]:
    """The injections the method enabled and left in place: still on while the steady
    state after the method is taken (Chaos Toolkit runs the rollbacks after it)."""
    on: dict[tuple, bool] = {}
    for row in _injections(journal):
        if row["phase"] == "during" and row["event"] in _ON | _OFF:
            on[(row["function"], row["injection"])] = row["event"] in _ON
    return [f"{injection} on {function}" for (function, injection), is_on in on.items() if is_on]


# ------------------------------------------------------------------- a run
def _run(result: RunResult) -> dict:
    journal = result.journal or {}
    left_on = faults_left_on(journal)
    phases = _phase_style(bool(left_on))
    after = _state(result.steady_state("after"))
    run = {
        "index": result.index,
        "name": result.planned.name,
        "title": (journal.get("experiment") or {}).get("title", result.planned.name),
        "vars_json": json.dumps(result.planned.vars),
        "expect": result.planned.expect,
        "outcome": result.outcome,
        "matched": result.matched,
        "duration_s": result.duration_s,
        "journal_name": result.journal_path.name if result.journal_path else "",
        "error": result.error,
        "fault_on_after": bool(left_on),
        "state_before": _state(result.steady_state("before")),
        "state_after": f"{after}, fault still on" if left_on else after,
        "left_on": ", ".join(left_on),
    }
    if result.error:
        return run
    points = invocations(journal)
    loads = load_series(journal)
    return run | {
        "legend": _legend(phases),
        "latency": _latency_chart(points, phases) if points or not loads else None,
        "errors": _error_rate_chart(points, _load_tallies(journal), phases),
        "load": _load_chart(journal, loads, phases),
        "timeline": _timeline(journal, phases),
        "injections": [
            row | {"phase": _label(row["phase"], phases)} for row in _injections(journal)
        ],
    }


def _phase_style(fault_on_after: bool) -> dict:
    """Per phase: its label (a list of lines) and colour. The steady state after the
    method is green only when the method left no fault in place."""
    style = {
        "before": (["before"], _COLORS["before"]),
        "during": (["during"], _COLORS["during"]),
        "after": (["after"], _COLORS["after"]),
    }
    if fault_on_after:
        style["after"] = (["after the method,", "fault still on"], _FAULT_ON_COLOR)
    return style


def _label(phase: str, phases: dict) -> str:
    return " ".join(phases[phase][0]) if phase in phases else phase


def _timeline(journal: dict, phases: dict) -> list[dict]:
    start = _time(journal.get("start"))
    rows = []
    for phase, record in _activity_runs(journal):
        activity = record.get("activity", {})
        offset = _time(record.get("start"))
        rows.append(
            {
                "phase": _label(phase, phases),
                "at": f"+{offset - start:.2f} s" if None not in (offset, start) else "",
                "name": activity.get("name", ""),
                "type": activity.get("type", ""),
                "status": record.get("status", ""),
                "took": record.get("duration", 0),
                "result": _describe(record),
            }
        )
    return rows


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


# -------------------------------------------------------------------- charts
def _frame(width: int, top_label: str, x_label: str, height: int = 220) -> dict:
    """A chart's box: its left margin is wide enough for the y-axis label."""
    left = max(44, round(_text_width(top_label, 10)) + 10)
    return {
        "width": width,
        "height": height,
        "left": left,
        "top": 22,
        "bottom": height - 44,
        "top_label": top_label,
        "x_label": x_label,
    }


def _latency_chart(points: list[dict], phases: dict) -> dict:
    top = max(p["duration_ms"] for p in points) * 1.1 or 1.0 if points else 1.0
    chart = _frame(520, f"{top:.0f} ms", "invokes, in order")
    span, high = chart["width"] - 10 - chart["left"], chart["bottom"] - chart["top"]
    step = span / max(1, len(points) - 1)
    drawn = []
    for i, p in enumerate(points):
        x = chart["left"] + i * step if len(points) > 1 else chart["left"] + span / 2
        y = chart["bottom"] - p["duration_ms"] / top * high
        failure = "" if p["ok"] else (" (timed out)" if p["timed_out"] else " (error)")
        drawn.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "ms": p["duration_ms"],
                "timed_out": p["timed_out"],
                "color": phases[p["phase"]][1] if p["ok"] else _ERROR_COLOR,
                "label": f"#{i + 1} {_label(p['phase'], phases)}: {p['duration_ms']:.0f} ms"
                + failure,
            }
        )
    chart["points"] = drawn
    chart["line"] = " ".join(f"{p['x']},{p['y']}" for p in drawn)
    return chart


def _load_tallies(journal: dict) -> dict:
    """Per phase, (invokes not ok, invokes) of the Locust loads (measure_load)."""
    tallies = {phase: (0, 0) for phase in PHASES}
    for phase, record in _activity_runs(journal):
        out = record.get("output")
        if phase in PHASES and isinstance(out, dict) and "workers" in out and "count" in out:
            failed, total = tallies[phase]
            tallies[phase] = (failed + out["count"] - out.get("ok", 0), total + out["count"])
    return tallies


def _error_rate_chart(points: list[dict], loads: dict, phases: dict) -> dict:
    """One bar per phase; a phase with no invoke says so instead of drawing 0%."""
    chart = _frame(340, "100%", "", height=232)
    slot = (chart["width"] - 10 - chart["left"]) / len(PHASES)
    high = chart["bottom"] - chart["top"]
    bars = []
    for i, phase in enumerate(PHASES):
        inphase = [p for p in points if p["phase"] == phase]
        failed = sum(not p["ok"] for p in inphase) + loads[phase][0]
        total = len(inphase) + loads[phase][1]
        rate = failed / total if total else 0.0
        h = max(rate * high, 0.5)
        x = chart["left"] + i * slot + slot * 0.2
        lines, color = phases[phase]
        bars.append(
            {
                "phase": phase,
                "x": round(x, 1),
                "w": round(slot * 0.6, 1),
                "mid": round(x + slot * 0.3, 1),
                "y": round(chart["bottom"] - h, 1),
                "h": round(h, 1),
                "rate": rate,
                "total": total,
                "color": color,
                "tick": lines,
                "title": f"{' '.join(lines)}: "
                + (f"{rate:.0%} of {total} invoke(s)" if total else "no invokes"),
            }
        )
    chart["bars"] = bars
    chart["caption"] = " / ".join(" ".join(phases[phase][0]) for phase in PHASES)
    return chart


def _load_chart(journal: dict, series: list[dict], phases: dict) -> Optional[dict]:
    """Invokes (solid, the phase's colour) and errors (dashed, red) per second of each
    Locust load, on the run's clock; dotted lines: the method's actions."""
    if not series:
        return None
    right = max(p["x"] for s in series for p in s["points"]) or 1.0
    top = max(max(p["rps"], p["errors_per_s"]) for s in series for p in s["points"]) * 1.1 or 1.0
    chart = _frame(520, f"{top:.0f}/s", f"seconds since the run began ({right:.0f})")
    span, high = chart["width"] - 10 - chart["left"], chart["bottom"] - chart["top"]

    def x_of(x: float) -> float:
        return round(chart["left"] + x / right * span, 1)

    def y_of(y: float) -> float:
        return round(chart["bottom"] - y / top * high, 1)

    lines = []
    for s in series:
        title = f"{_label(s['phase'], phases)}: {s['name']}"
        title += " (partial)" if s["partial"] else ""
        for key, cls, stroke, dashed in (
            ("rps", "load-rps", phases[s["phase"]][1], False),
            ("errors_per_s", "load-errors", _ERROR_COLOR, True),
        ):
            lines.append(
                {
                    "cls": cls,
                    "phase": s["phase"],
                    "data": ",".join(f"{p[key]:g}" for p in s["points"]),
                    "coords": " ".join(f"{x_of(p['x'])},{y_of(p[key])}" for p in s["points"]),
                    "stroke": stroke,
                    "dashed": dashed,
                    "title": title,
                }
            )
    start = _time(journal.get("start"))
    actions = []
    for record in journal.get("run", []) or []:
        at = _time(record.get("end"))  # an action's change is in place once it ended
        activity = record.get("activity") or {}
        if activity.get("type") == "action" and at is not None and start is not None:
            actions.append({"x": x_of(min(at - start, right)), "name": activity.get("name", "")})
    return chart | {"lines": lines, "actions": actions}


def _legend(phases: dict) -> list[dict]:
    items, x = [], 60.0
    for phase in PHASES:
        label = _label(phase, phases)
        items.append({"x": round(x, 1), "label": label, "color": phases[phase][1]})
        x += 8 + _text_width(label, 11) + 16
    return items


# ------------------------------------------------------------------- helpers
def _text_width(text: str, font_size: int) -> float:
    """A generous estimate of a sans-serif label's width in pixels."""
    return len(text) * font_size * 0.62


def _state(met: Optional[bool]) -> str:
    return "not run" if met is None else ("met" if met else "NOT met")


def _time(value: Any) -> Optional[float]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
