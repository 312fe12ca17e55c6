"""Benchmark finding a room: ``python -m bench.find`` (not a test; prints p50 and p99).

Seeds 1,000 spaces and 1M reservations (``bench/seed.py``: 1,000 per space, eight a day
over 125 days), then times, in this process, the two queries issue 17 sets targets for:

- free spaces for a one-hour window over all spaces (``services.availability.free_spaces``,
  what ``GET /api/booking/free-spaces`` runs), at a time half the spaces are booked;
- the schedule of 50 spaces over a day at 30-minute intervals (``schedules``).

Each runs two ways: on the event loop through the hot paths, as ``/api/booking`` runs it
(asyncpg on PostgreSQL), and in the calling thread through SQLAlchemy's connection, as
the CLI and the web view run it (``ReservationService.read_here``).

Each query runs ``--runs`` times at windows spread over the seeded days, so caches hold
the index pages the way a busy server's would, but not one window's answer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database, _unavailable
from bench.seed import seed, space_id
from roomline.domain.availability import SpaceFilter
from roomline.services import availability
from roomline.services.clock import SystemClock
from roomline.services.reservations import Policy, ReservationService, hot_paths_for
from roomline.storage.database import Database
from roomline.storage.hotpath import HotPath


def wall_clock(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(run: Callable[[int], object], runs: int) -> list[float]:
    samples = []
    for index in range(runs):
        began = time.perf_counter()
        run(index)
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def bench_backend(url: str, spaces: int, total: int, runs: int) -> dict[str, tuple[float, float]]:
    database = Database(url)
    loop = asyncio.new_event_loop()
    hot = hot_paths_for(database, SystemClock())
    try:
        began = time.perf_counter()
        layout = seed(database, spaces_count=spaces, total=total, api_key=uuid.uuid4().hex)
        print(
            f"  seeded {layout.reservations:,} reservations in {time.perf_counter() - began:.0f} s"
        )
        policy = Policy()
        service = ReservationService(database, SystemClock(), policy)
        days = layout.full_days
        UseCase = Callable[[HotPath], Coroutine[Any, Any, Any]]

        def on_loop(use_case: UseCase) -> Any:
            return loop.run_until_complete(hot.read(use_case))

        def in_thread(use_case: UseCase) -> Any:
            return service.read_here(use_case)

        def free(run: Callable[[UseCase], Any]) -> Callable[[int], None]:
            def one(index: int) -> None:
                # 07:15-08:15 overlaps the 07:30 slot's blocked time: every space is busy
                # on each of its full days; every other run asks for a day after the
                # seeded ones, when all are free. Wall-clock times, as most clients send.
                busy = index % 2 == 0
                day = (layout.day0 if busy else layout.free_from) + timedelta(
                    days=(index // 2) % days
                )
                start = day + timedelta(hours=7, minutes=15)
                first, last = wall_clock(start), wall_clock(start + timedelta(hours=1))
                found = run(
                    lambda path: availability.free_spaces(path, policy, SpaceFilter(), first, last)
                )
                assert len(found) == (0 if busy else spaces), len(found)

            return one

        ids = [space_id(i) for i in range(min(50, spaces))]

        def schedule(run: Callable[[UseCase], Any]) -> Callable[[int], None]:
            def one(index: int) -> None:
                day = layout.day0 + timedelta(days=index % days)
                first, last = wall_clock(day), wall_clock(day + timedelta(days=1))
                found = run(lambda path: availability.schedules(path, policy, first, last, 30, ids))
                assert len(found) == len(ids) and found[0].items, found[0]

            return one

        cases = {
            "free-spaces (1 h, all spaces), on the loop": free(on_loop),
            "free-spaces (1 h, all spaces), in a thread": free(in_thread),
            "schedule (50 spaces, 1 day), on the loop": schedule(on_loop),
            "schedule (50 spaces, 1 day), in a thread": schedule(in_thread),
        }
        for case in cases.values():  # warm up
            for index in range(5):
                case(index)
        return {name: percentiles(timed(case, runs)) for name, case in cases.items()}
    finally:
        loop.run_until_complete(hot.close())
        loop.close()
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--spaces", type=int, default=1000)
    parser.add_argument("--reservations", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
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
            for name, (p50, p99) in results.items():
                print(f"  {name:44} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")


if __name__ == "__main__":
    main()
