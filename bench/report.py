"""The benchmark's tables (Markdown, printed and pasted into the docs) and its JSON file.

Two tables: every measurement in one row each (``table``), and per size, workflow and
number of workers the two databases side by side (``comparison``): each beside its floor
and the other, their p99s, and each against itself with the fewest workers measured.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import BENCH_DIR

RESULTS = BENCH_DIR / "results"
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
HEADER = (
    "| server | workers | reservations | workflow | req/s | p50 ms | p99 ms | errors | 1015s "
    "| peak RSS MB (largest process) | × ceiling | × fewest workers |\n"
    "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)
COMPARISON_HEADER = (
    "| reservations | workflow | workers | SQLite req/s | its floor | × floor "
    "| PostgreSQL req/s | its floor | × floor | PostgreSQL ÷ SQLite "
    "| SQLite p99 ms | PostgreSQL p99 ms | p99 PostgreSQL ÷ SQLite "
    "| SQLite × fewest workers | PostgreSQL × fewest workers |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
# (server, backend, reservations, workers, workflow) -> one measurement; server is
# "roomline", "floor" or "ceiling".
Key = tuple[str, str, int, int, str]


def _measurements(report: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    for ceiling in report["ceilings"]:
        found["ceiling", "", 0, ceiling["workers"], "constant JSON"] = ceiling
    for run in report["runs"]:
        at = (run["backend"], run["reservations"], run["workers"])
        for name, result in run["workflows"].items():
            found["roomline", *at, name] = result
        for name, result in run.get("floor", {}).items():
            found["floor", *at, name] = result
    return found


def _ratio(top: dict[str, Any] | None, bottom: dict[str, Any] | None, field: str) -> str:
    if top is None or bottom is None or not bottom[field]:
        return "-"
    return f"{top[field] / bottom[field]:.2f}"


def _rate(result: dict[str, Any] | None) -> str:
    return "-" if result is None else f"{result['requests_per_second']:,.0f}"


def _p99(result: dict[str, Any] | None) -> str:
    return "-" if result is None else f"{result['p99_ms']:.2f}"


def _fewest(found: dict[Key, dict[str, Any]], key: Key) -> dict[str, Any] | None:
    """The same measurement with the fewest workers, if that is fewer than ``key``'s."""
    server, backend, reservations, workers, workflow = key
    counts = sorted({k[3] for k in found if k[:3] == key[:3] and k[4] == workflow})
    if not counts or counts[0] >= workers:
        return None
    return found.get((server, backend, reservations, counts[0], workflow))


def table(report: dict[str, Any]) -> str:
    """Every measurement, in the order taken."""
    found = _measurements(report)
    ceilings = {c["workers"]: c for c in report["ceilings"]}
    lines = [HEADER]
    for key, result in found.items():
        server, backend, reservations, workers, workflow = key
        if server == "ceiling":
            title, size = "ceiling (uvicorn)", "-"
        else:
            title = DATABASES.get(backend, backend)
            title = f"floor ({title})" if server == "floor" else title
            size = f"{reservations:,}"
        lines.append(
            f"| {title} | {workers} | {size} | {workflow} | {_rate(result)} "
            f"| {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | {result['errors']} "
            f"| {result['conflicts']} | {result['peak_rss_mb']:.0f} "
            f"| {_ratio(result, ceilings.get(workers), 'requests_per_second')} "
            f"| {_ratio(result, _fewest(found, key), 'requests_per_second')} |"
        )
    return "\n".join(lines)


def comparison(report: dict[str, Any]) -> str:
    """Per size, workflow and workers: SQLite and PostgreSQL beside their floors and
    each other."""
    found = _measurements(report)
    taken: dict[str, int] = {}  # the workflows in the order they were measured
    for key in found:
        taken.setdefault(key[4], len(taken))
    rows = sorted(
        {(k[2], k[4], k[3]) for k in found if k[0] == "roomline"},
        key=lambda row: (row[0], taken[row[1]], row[2]),
    )
    lines = [COMPARISON_HEADER]
    rps = "requests_per_second"
    for reservations, workflow, workers in rows:
        lite, pg = (
            found.get(("roomline", backend, reservations, workers, workflow))
            for backend in DATABASES
        )
        lite_floor, pg_floor = (
            found.get(("floor", backend, reservations, workers, workflow)) for backend in DATABASES
        )
        lite_fewest, pg_fewest = (
            _fewest(found, ("roomline", backend, reservations, workers, workflow))
            for backend in DATABASES
        )
        lines.append(
            f"| {reservations:,} | {workflow} | {workers} "
            f"| {_rate(lite)} | {_rate(lite_floor)} | {_ratio(lite, lite_floor, rps)} "
            f"| {_rate(pg)} | {_rate(pg_floor)} | {_ratio(pg, pg_floor, rps)} "
            f"| {_ratio(pg, lite, rps)} "
            f"| {_p99(lite)} | {_p99(pg)} | {_ratio(pg, lite, 'p99_ms')} "
            f"| {_ratio(lite, lite_fewest, rps)} | {_ratio(pg, pg_fewest, rps)} |"
        )
    return "\n".join(lines)


def notes(report: dict[str, Any]) -> str:
    """Seeding times, and Get's p99 at the largest size over the smallest, per backend."""
    lines = []
    by_backend: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in report["runs"]:
        if run["workers"] == report["runs"][0]["workers"]:  # each database is seeded once
            lines.append(
                f"- {run['backend']}: seeded {run['reservations']:,} reservations in "
                f"{run['seed_seconds']:.1f} s"
            )
        by_backend.setdefault((run["backend"], run["workers"]), []).append(run)
    for (backend, workers), runs in by_backend.items():
        if len(runs) < 2:
            continue
        small = min(runs, key=lambda r: r["reservations"])
        large = max(runs, key=lambda r: r["reservations"])
        if "Get" in small["workflows"] and "Get" in large["workflows"]:
            growth = large["workflows"]["Get"]["p99_ms"] / small["workflows"]["Get"]["p99_ms"]
            lines.append(
                f"- {backend}, {workers} worker(s): Get p99 at {large['reservations']:,} is "
                f"{growth:.2f}× its p99 at {small['reservations']:,}"
            )
    lines.append(
        "- peak RSS: the largest single process's VmHWM during the workflow (a worker, the "
        "background process or uvicorn's supervisor); the sum over all of them is "
        "peak_rss_total_mb in the JSON"
    )
    lines.extend(f"- {note}" for note in report.get("skipped", []))
    return "\n".join(lines)


def write(report: dict[str, Any], label: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{label}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
