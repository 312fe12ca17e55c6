"""Benchmark (not a test): book a weekly two-year series on SQLite holding a million
reservations.

    python -m bench.series [--reservations 1000000] [--spaces 100] [--runs 7]

Seeds a fresh SQLite database with ``bench.seed`` (its layout: every space busy from
06:00 UTC in 90-minute slots), then books ``--runs`` series of 104 weekly occurrences at
05:00-05:45 UTC, each in another space, through ``SeriesService.create`` (the use case the
API calls, with its conflict checks, inserts, audit entries and the commit's fsync) and
prints each time and the median. Every occurrence lies among the space's reservations,
so each conflict check searches a populated index. The CPU time beside each run is
this process's own: on a shared machine it tells the work apart from waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.seed import seed, space_id
from roomline.services.clock import SystemClock
from roomline.services.reservations import Policy, ReservationService
from roomline.services.series import NewSeries, SeriesService
from roomline.storage.database import Database

WEEKS = 104
TARGET_MS = 150


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.series", description=__doc__)
    parser.add_argument("--reservations", type=int, default=1_000_000)
    parser.add_argument("--spaces", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="roomline-bench-series-") as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
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
        times: list[float] = []
        cpu: list[float] = []
        for run in range(options.runs):
            request = NewSeries(
                space_id=space_id(run % layout.spaces),
                applicant_id="P001",
                start=first.replace(hour=5).strftime("%Y-%m-%dT%H:%M:%SZ"),
                end=first.replace(hour=5, minute=45).strftime("%Y-%m-%dT%H:%M:%SZ"),
                rrule=f"FREQ=WEEKLY;COUNT={WEEKS}",
                description="Weekly meeting",
            )
            began, began_cpu = time.perf_counter(), time.process_time()
            outcome = service.create(request, None)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            assert len(outcome.occurrences) == WEEKS and not outcome.skipped
            print(
                f"run {run + 1}: {WEEKS} occurrences booked in {times[-1]:.1f} ms "
                f"({cpu[-1]:.1f} ms of CPU)"
            )
        median = statistics.median(times)
        verdict = "within" if median <= TARGET_MS else "OVER"
        print(
            f"weekly two-year series ({WEEKS} occurrences), SQLite, "
            f"{layout.reservations:,} reservations: median {median:.1f} ms "
            f"(min {min(times):.1f}, max {max(times):.1f}), CPU median "
            f"{statistics.median(cpu):.1f} ms; {verdict} the {TARGET_MS} ms target"
        )
        print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
