"""Benchmark a utilisation report: ``python -m bench.reports`` (not a test; prints times).

Seeds 1,000 spaces and 1M reservations (``bench/seed.py``: eight a day over 125 days),
puts the spaces in 10 buildings of 5 floors, half of them in Europe/Amsterdam and half
in UTC, and writes the log a real server would have: a create entry for every
reservation, and cancellations (5 %), releases (5 %) and check-ins (30 %), with the
reservations' status and door columns as the server leaves them. Then it times
the quarter's report (91 days from the first seeded day, about 730,000 reservations)
grouped per space, floor and building: ``services.reports.utilisation`` plus its JSON,
what ``GET /api/manage/reports/utilisation`` runs. Target (issue 21): 2 s on SQLite.

Besides wall-clock time it prints this process's CPU time (on SQLite, all of the work;
on PostgreSQL, all but the server's) and the load average as the timing began: on a
shared machine the wall clock says as much about the neighbours as about the report.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text, update

from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database, _unavailable
from bench.seed import seed, space_id
from roomline.domain.utilisation import DEFAULT_WORKING_HOURS, parse_working_hours
from roomline.services import reports
from roomline.storage.database import Database
from roomline.storage.tables import spaces

QUARTER_DAYS = 91


def furnish(database: Database, spaces_count: int) -> None:
    """Give the seeded spaces buildings, floors and zones, and the reservations a log."""
    with database.write() as conn:
        for index in range(spaces_count):
            conn.execute(
                update(spaces)
                .where(spaces.c.id == space_id(index))
                .values(
                    building=f"B{index % 10}",
                    floor=str(index // 10 % 5),
                    time_zone="Europe/Amsterdam" if index % 2 else "UTC",
                    capacity=[4, 8, 12, 30, 60][index % 5],
                )
            )
        log = (
            "INSERT INTO audit_log (at, action, ultimo_id, after_state, space_id) "
            "SELECT {at}, '{action}', ultimo_id, '{{}}', space_id FROM reservations {where}"
        )
        conn.execute(text(log.format(at="created_at", action="create", where="")))
        # What the door leaves on a reservation it releases or checks in, beside its entry.
        for values, where in (
            ("status = 'Cancelled'", "ultimo_id % 20 = 0"),
            ("status = 'Cancelled', released_at = start_time", "ultimo_id % 20 = 1"),
            ("checked_in_at = start_time", "ultimo_id % 20 BETWEEN 2 AND 7"),
        ):
            conn.execute(text(f"UPDATE reservations SET {values} WHERE {where}"))
        for action, where in (
            ("cancel", "ultimo_id % 20 = 0"),
            ("release", "ultimo_id % 20 = 1"),
            ("check_in", "ultimo_id % 20 BETWEEN 2 AND 7"),
        ):
            conn.execute(text(log.format(at="start_time", action=action, where=f"WHERE {where}")))


def bench_backend(
    url: str, spaces_count: int, total: int, runs: int
) -> dict[str, list[tuple[float, float]]]:
    database = Database(url)
    try:
        began = time.perf_counter()
        layout = seed(database, spaces_count=spaces_count, total=total, api_key=uuid.uuid4().hex)
        furnish(database, spaces_count)
        if database.engine.dialect.name == "postgresql":
            with database.write() as conn:
                conn.execute(text("ANALYZE"))
        print(
            f"  seeded {layout.reservations:,} reservations and their log "
            f"in {time.perf_counter() - began:.0f} s"
        )
        first = layout.day0.date()
        till = first + timedelta(days=QUARTER_DAYS)
        hours = parse_working_hours(DEFAULT_WORKING_HOURS)
        samples: dict[str, list[tuple[float, float]]] = {}
        print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for group in reports.GROUPS:
            times = samples[f"quarter, per {group}"] = []
            for _ in range(runs + 1):  # the first run warms the caches and is not counted
                start, cpu = time.perf_counter(), time.process_time()
                report = reports.utilisation(database, hours, "UTC", first, till, group)
                body = reports.report_json(report)
                times.append((time.perf_counter() - start, time.process_time() - cpu))
            times.pop(0)
            print(f"  per {group}: {body['total']['reservations']:,} reservations in the quarter")
        return samples
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--spaces", type=int, default=1000)
    parser.add_argument("--reservations", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for backend in args.backends.split(","):
            reason = _unavailable(backend, args.pg_admin_url)
            if reason:
                print(f"{backend}: skipped ({reason})")
                continue
            print(f"{backend}: {args.spaces:,} spaces, {args.reservations:,} reservations")
            with _fresh_database(backend, Path(work), args.pg_admin_url) as url:
                results = bench_backend(url, args.spaces, args.reservations, args.runs)
            for name, times in results.items():
                wall = [seconds for seconds, _ in times]
                cpu = [seconds for _, seconds in times]
                print(
                    f"  {name:22} median {statistics.median(wall):6.2f} s   "
                    f"best {min(wall):6.2f} s   worst {max(wall):6.2f} s   "
                    f"CPU median {statistics.median(cpu):5.2f} s"
                )


if __name__ == "__main__":
    main()
