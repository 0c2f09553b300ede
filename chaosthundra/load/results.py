"""The figures of a finished Locust run, from the master's result file (written by
:mod:`.locustfile`) and Locust's stats history CSV. Pure: no Locust, no AWS."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Optional

from chaosthundra.targets.invoke import figures

__all__ = ["history", "summarise"]

# An achieved rate at least this share of the asked one counts as reached.
RATE_REACHED = 0.95
NO_VERSION = "-"


def summarise(
    record: dict, history_csv: str, asked_rps: Optional[float], expect_workers: int
) -> dict:
    """The probe's answer: measure_invocations' figures, overall and per executed version,
    with the workers, the failures by name, the rate and the history."""
    failures: Counter = Counter()
    by_version: dict[str, tuple[Counter, Counter]] = {}
    for entry in record["entries"]:
        version = entry["name"].rpartition("@")[2] or NO_VERSION
        verdicts, durations = by_version.setdefault(version, (Counter(), Counter()))
        verdicts["ok"] += entry["num_requests"] - entry["num_failures"]
        for ms, n in entry["response_times"].items():
            durations[float(ms)] += n
    for failure in record["failures"]:
        version = failure["name"].rpartition("@")[2] or NO_VERSION
        kind = failure["error"].partition(":")[0]
        by_version[version][0][kind] += failure["occurrences"]
        failures[failure["error"]] += failure["occurrences"]
    elapsed = (record["stopped"] or 0) - (record["started"] or 0)
    verdicts: Counter = Counter()
    durations: Counter = Counter()
    for version_verdicts, version_durations in by_version.values():
        verdicts.update(version_verdicts)
        durations.update(version_durations)
    summary = figures(verdicts, durations, elapsed)
    joined, missing = record["joined"], record["missing"]
    sent = sum(int(done.get("sent", 0)) for done in record["finished"].values())
    partial = (
        bool(missing) or len(joined) < expect_workers or (not missing and sent != summary["count"])
    )
    summary.update(
        workers=len(joined) if joined else len(record["finished"]),
        missing_workers=missing,
        partial=partial,
        sent=sent,
        asked_rps=asked_rps,
        rate_reached=None if not asked_rps else (summary["rps"] or 0) >= RATE_REACHED * asked_rps,
        executed_versions={
            v: sum(c.values()) for v, (c, _) in by_version.items() if v != NO_VERSION
        },
        versions={v: figures(c, d, elapsed) for v, (c, d) in sorted(by_version.items())},
        failures=dict(failures),
        history=history(history_csv),
    )
    return summary


def history(text: str) -> list:
    """Per interval of Locust's stats history: seconds since the first row (`t`) and
    the time (`at`, epoch seconds), users, invokes per second and failures per second
    (from the running totals)."""
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r.get("Name") == "Aggregated"]
    points, previous = [], None
    for row in rows:
        at = float(row["Timestamp"])
        total, failed = int(row["Total Request Count"]), int(row["Total Failure Count"])
        if previous is not None and at > previous[0]:
            span = at - previous[0]
            points.append(
                {
                    "t": round(at - float(rows[0]["Timestamp"]), 3),
                    "at": at,
                    "users": int(row["User Count"]),
                    "rps": round((total - previous[1]) / span, 3),
                    "errors_per_s": round((failed - previous[2]) / span, 3),
                }
            )
        previous = (at, total, failed)
    return points
