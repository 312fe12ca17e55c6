"""The benchmark's table (Markdown, printed and pasted into the docs) and its JSON file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import BENCH_DIR

RESULTS = BENCH_DIR / "results"
HEADER = (
    "| server | reservations | workflow | req/s | p50 ms | p99 ms | errors | 1015s "
    "| peak RSS MB | × ceiling |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def workflow_row(
    server: str, reservations: int | str, name: str, result: dict[str, Any], ceiling: float
) -> str:
    ratio = result["requests_per_second"] / ceiling if ceiling else 0.0
    return (
        f"| {server} | {reservations} | {name} | {result['requests_per_second']:,.0f} "
        f"| {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | {result['errors']} "
        f"| {result['conflicts']} | {result['peak_rss_mb']:.0f} | {ratio:.2f} |"
    )


def table(report: dict[str, Any]) -> str:
    ceiling = report["ceiling"]
    rps = ceiling["requests_per_second"]
    lines = [HEADER, workflow_row("ceiling (uvicorn)", "-", "constant JSON", ceiling, rps)]
    for run in report["runs"]:
        for name, result in run["workflows"].items():
            lines.append(
                workflow_row(run["backend"], f"{run['reservations']:,}", name, result, rps)
            )
        for name, result in run.get("floor", {}).items():
            lines.append(
                workflow_row(
                    "floor (bench/floor.py)", f"{run['reservations']:,}", name, result, rps
                )
            )
    return "\n".join(lines)


def notes(report: dict[str, Any]) -> str:
    """Seeding times and Get's p99 at the largest size over the smallest, per backend."""
    lines = []
    by_backend: dict[str, list[dict[str, Any]]] = {}
    for run in report["runs"]:
        lines.append(
            f"- {run['backend']}: seeded {run['reservations']:,} reservations in "
            f"{run['seed_seconds']:.1f} s"
        )
        by_backend.setdefault(run["backend"], []).append(run)
    for backend, runs in by_backend.items():
        if len(runs) < 2:
            continue
        small = min(runs, key=lambda r: r["reservations"])
        large = max(runs, key=lambda r: r["reservations"])
        if "Get" in small["workflows"] and "Get" in large["workflows"]:
            growth = large["workflows"]["Get"]["p99_ms"] / small["workflows"]["Get"]["p99_ms"]
            lines.append(
                f"- {backend}: Get p99 at {large['reservations']:,} is {growth:.2f}× "
                f"its p99 at {small['reservations']:,}"
            )
    lines.extend(f"- {note}" for note in report.get("skipped", []))
    return "\n".join(lines)


def write(report: dict[str, Any], label: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{label}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
