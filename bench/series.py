"""Benchmark (not a test): book a weekly two-year series in a database holding a million
reservations.

    python -m bench.series [--backend sqlite|postgresql] [--reservations 1000000]
                           [--spaces 100] [--runs 7]

Seeds a fresh database with ``bench.seed`` (its layout: every space busy from 06:00 UTC
in 90-minute slots), then books ``--runs`` series of 104 weekly occurrences at
05:00-05:45 UTC, each in another space, and prints each time and the median. Every
occurrence lies among the space's reservations, so each conflict check searches a
populated index. Each series is booked by ``SeriesService.create_on`` (the use case, with
its conflict checks, inserts, log entries and the commit) in two ways, alternately:

- ``loop``: through ``HotPaths.transaction``, as ``POST /api/booking/series`` runs it
  (on PostgreSQL on the event loop over asyncpg; on SQLite in a thread);
- ``thread``: through ``SeriesService.create``, as the CLI and the web view run it (one
  thread's SQLAlchemy transaction).

The CPU time beside each run is this process's own: on a shared machine it tells the work
apart from waiting for a core (on PostgreSQL the server's share is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database
from bench.seed import seed, space_id
from roomline.services.clock import SystemClock
from roomline.services.reservations import Policy, ReservationService, hot_paths_for
from roomline.services.series import NewSeries, SeriesOutcome, SeriesService
from roomline.storage.database import Database

WEEKS = 104
TARGET_MS = 150


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.series", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--reservations", type=int, default=1_000_000)
    parser.add_argument("--spaces", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="roomline-bench-series-") as folder,
        _fresh_database(options.backend, Path(folder), options.pg_admin_url) as url,
    ):
        database = Database(url)
        started = time.perf_counter()
        layout = seed(
            database, spaces_count=options.spaces, total=options.reservations, api_key="0" * 32
        )
        print(
            f"seeded {layout.reservations:,} reservations in {layout.spaces} spaces "
            f"in {time.perf_counter() - started:.1f} s"
        )
        service = SeriesService(ReservationService(database, SystemClock(), Policy()))
        first = layout.day0 + timedelta(days=7)
        # One loop and its pool for every run, as in a server.
        loop, hot = asyncio.Runner(), hot_paths_for(database, service.clock)
        ways: dict[str, Callable[[NewSeries], SeriesOutcome]] = {
            "loop": lambda request: loop.run(
                hot.transaction(lambda tx: service.create_on(tx, request, None))
            ),
            "thread": lambda request: service.create(request, None),
        }
        times: dict[str, list[float]] = {way: [] for way in ways}
        cpu: dict[str, list[float]] = {way: [] for way in ways}
        for run in range(options.runs * len(ways)):
            way = list(ways)[run % len(ways)]
            request = NewSeries(
                space_id=space_id(run % layout.spaces),
                applicant_id="P001",
                start=first.replace(hour=5).strftime("%Y-%m-%dT%H:%M:%SZ"),
                end=first.replace(hour=5, minute=45).strftime("%Y-%m-%dT%H:%M:%SZ"),
                rrule=f"FREQ=WEEKLY;COUNT={WEEKS}",
                description="Weekly meeting",
            )
            began, began_cpu = time.perf_counter(), time.process_time()
            outcome = ways[way](request)
            times[way].append((time.perf_counter() - began) * 1000)
            cpu[way].append((time.process_time() - began_cpu) * 1000)
            assert len(outcome.occurrences) == WEEKS and not outcome.skipped
            print(
                f"run {run + 1} ({way}): {WEEKS} occurrences booked in {times[way][-1]:.1f} ms "
                f"({cpu[way][-1]:.1f} ms of CPU)"
            )
        for way in ways:
            median = statistics.median(times[way])
            verdict = "within" if median <= TARGET_MS else "OVER"
            print(
                f"weekly two-year series ({WEEKS} occurrences), {options.backend}, {way}, "
                f"{layout.reservations:,} reservations: median {median:.1f} ms "
                f"(min {min(times[way]):.1f}, max {max(times[way]):.1f}), CPU median "
                f"{statistics.median(cpu[way]):.1f} ms; {verdict} the {TARGET_MS} ms target"
            )
        print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        loop.run(hot.close())
        loop.close()
        database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
