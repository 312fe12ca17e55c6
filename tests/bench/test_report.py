"""The benchmark's tables: the databases side by side, with their floors and workers."""

from __future__ import annotations

from typing import Any

from bench import report


def _measured(rps: float, p99: float, rss: float = 90.0) -> dict[str, Any]:
    return {
        "requests_per_second": rps,
        "p50_ms": p99 / 4,
        "p99_ms": p99,
        "errors": 0,
        "conflicts": 0,
        "peak_rss_mb": rss,
    }


def _run(backend: str, workers: int, get: float, floor: float, p99: float) -> dict[str, Any]:
    return {
        "backend": backend,
        "reservations": 10_000,
        "workers": workers,
        "seed_seconds": 1.5,
        "workflows": {"Get": _measured(get, p99)},
        "floor": {"Get": _measured(floor, p99 / 2, 50.0)},
    }


REPORT: dict[str, Any] = {
    "ceilings": [
        {"workers": 1, **_measured(10_000, 1.0, 32.0)},
        {"workers": 2, **_measured(20_000, 1.0, 32.0)},
    ],
    "runs": [
        _run("sqlite", 1, 2_000, 4_000, 10.0),
        _run("sqlite", 2, 3_400, 6_000, 8.0),
        _run("postgresql", 1, 1_000, 1_250, 25.0),
        _run("postgresql", 2, 1_600, 2_000, 20.0),
    ],
    "skipped": [],
}


def test_comparison_puts_each_database_beside_its_floor_the_other_and_one_worker() -> None:
    assert report.comparison(REPORT).splitlines()[2:] == [
        "| 10,000 | Get | 1 | 2,000 | 4,000 | 0.50 | 1,000 | 1,250 | 0.80 | 0.50 "
        "| 10.00 | 25.00 | 2.50 | - | - |",
        "| 10,000 | Get | 2 | 3,400 | 6,000 | 0.57 | 1,600 | 2,000 | 0.80 | 0.47 "
        "| 8.00 | 20.00 | 2.50 | 1.70 | 1.60 |",
    ]


def test_comparison_leaves_a_database_not_measured_blank() -> None:
    sqlite_only = {**REPORT, "runs": REPORT["runs"][:1]}
    assert report.comparison(sqlite_only).splitlines()[2:] == [
        "| 10,000 | Get | 1 | 2,000 | 4,000 | 0.50 | - | - | - | - | 10.00 | - | - | - | - |"
    ]


def test_table_gives_each_measurement_its_ceiling_and_fewest_workers_ratio() -> None:
    rows = report.table(REPORT).splitlines()[2:]
    assert rows[1] == (
        "| ceiling (uvicorn) | 2 | - | constant JSON | 20,000 | 0.25 | 1.00 | 0 | 0 | 32 "
        "| 1.00 | 2.00 |"
    )
    assert rows[4] == (
        "| SQLite | 2 | 10,000 | Get | 3,400 | 2.00 | 8.00 | 0 | 0 | 90 | 0.17 | 1.70 |"
    )
    assert rows[9] == (
        "| floor (PostgreSQL) | 2 | 10,000 | Get | 2,000 | 2.50 | 10.00 | 0 | 0 | 50 "
        "| 0.10 | 1.60 |"
    )
