"""``python -m bench.instructions``: instructions per request, counted by callgrind.

Requests per second depend on how busy the machine is; on a shared 2-core machine the
same build measured anywhere from 1,100 to 37,000 constant answers a second. Counting
the instructions one request executes does not: callgrind counts exactly, whatever runs
beside it (but only user-space work: system calls, fsync and the kernel's share of the
network are not in the count). So this is the number to compare before and after a
change to the Python path.

It seeds a database in bulk (bench/seed.py; SQLite, or a fresh PostgreSQL database next
to ``--pg-url``'s), builds the app in-process with
``create_app`` (as ``roomline serve`` does, with its JSON access log going to
``/dev/null``) and answers requests through the ASGI interface, 16 at a time, without
uvicorn or a socket. Under callgrind, instrumentation is switched on only for the
measured requests. Run it as::

    .venv/bin/python -m bench.instructions --workflows Get,Create --backends sqlite,postgresql

which re-runs itself under ``valgrind --tool=callgrind`` (Debian's valgrind package) and
prints instructions per request for each workflow. On PostgreSQL only the server's side
is counted: PostgreSQL's own work runs in its processes, outside callgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import logging.config
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database, _unavailable
from bench.seed import Layout, person_id, seed, space_id
from roomline.api.app import create_app
from roomline.api.observability import logging_config
from roomline.config import Settings
from roomline.storage.database import Database

PATHS = {
    "Get": "/api/V1/Action/REST_GetReservationsForSpace",
    "Create": "/api/V1/Action/REST_CreateReservation",
}
CONCURRENCY = 16
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _body(workflow: str, layout: Layout, number: int) -> bytes:
    if workflow == "Get":  # a fully booked day of a random space, as bench/load.lua asks
        day = layout.day0 + timedelta(days=random.randrange(layout.full_days))
        return orjson.dumps(
            {
                "SpaceId": space_id(random.randrange(layout.spaces)),
                "From": day.strftime(TIME_FORMAT),
                "Till": (day + timedelta(days=1)).strftime(TIME_FORMAT),
            }
        )
    # A fresh half hour after the seeded days, never colliding with another request's.
    start = layout.free_from + timedelta(days=number // 10, hours=number % 10)
    return orjson.dumps(
        {
            "SpaceId": space_id(number % layout.spaces),
            "ApplicantId": person_id(number % 100),
            "StartTime": start.strftime(TIME_FORMAT),
            "EndTime": (start + timedelta(minutes=30)).strftime(TIME_FORMAT),
            "Description": "Bench meeting",
        }
    )


async def _request(app: Any, path: str, key: str, body: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"apikey", key.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    received = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _drive(app: Any, workflow: str, layout: Layout, first: int, count: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    numbers = iter(range(first, first + count))

    async def client() -> None:
        for number in numbers:
            body = _body(workflow, layout, number)
            statuses[await _request(app, PATHS[workflow], layout.api_key, body)] += 1

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return statuses


def _callgrind(switch: str) -> None:
    """Switch callgrind's instrumentation of this process on or off (no-op outside it)."""
    if os.environ.get("BENCH_UNDER_CALLGRIND"):
        subprocess.run(
            ["callgrind_control", "--instr=" + switch, str(os.getpid())],
            check=True,
            capture_output=True,
        )


def measure_in_process(
    workflow: str, backend: str, requests: int, warmup: int, work: Path, pg_admin_url: str
) -> None:
    """Seed, build the app, warm up, then answer ``requests`` with instrumentation on."""
    with _fresh_database(backend, work, pg_admin_url) as url:
        database = Database(url)
        layout = seed(
            database, spaces_count=1000, total=10_000, api_key=secrets.token_hex(16).upper()
        )
        database.dispose()
        os.environ["ROOMLINE_DATABASE_URL"] = url
        logging.config.dictConfig(logging_config("json", "info"))
        for name in ("roomline", "roomline.access"):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        app = create_app(Settings())
        loop = asyncio.new_event_loop()
        loop.run_until_complete(_drive(app, workflow, layout, 1_000_000, warmup))
        _callgrind("on")
        statuses = loop.run_until_complete(_drive(app, workflow, layout, 0, requests))
        _callgrind("off")
        loop.run_until_complete(app.state.ultimo.hot.close())  # PostgreSQL's pools
        print(f"BENCH_STATUSES {workflow} {dict(statuses)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--workflows", default="Get,Create", help="subset of Get,Create")
    parser.add_argument("--requests", type=int, default=200, help="measured requests [200]")
    parser.add_argument("--warmup", type=int, default=50, help="requests before counting [50]")
    parser.add_argument("--backends", default="sqlite", help="subset of sqlite,postgresql")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ROOMLINE_BENCH_PG_URL", DEFAULT_PG_ADMIN_URL),
        help="PostgreSQL maintenance database to create the bench database from",
    )
    parser.add_argument("--inside", help=argparse.SUPPRESS)  # the run under callgrind
    args = parser.parse_args(argv)
    if args.inside:
        workflow, backend = args.inside.split(":")
        with tempfile.TemporaryDirectory(prefix="roomline-instructions-") as work:
            measure_in_process(
                workflow, backend, args.requests, args.warmup, Path(work), args.pg_url
            )
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("bench.instructions: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 1
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if "postgresql" in backends and (problem := _unavailable("postgresql", args.pg_url)):
        print(f"bench.instructions: {problem}", file=sys.stderr)
        return 1
    workflows = [name.strip() for name in args.workflows.split(",") if name.strip()]
    for workflow, backend in [(w, b) for b in backends for w in workflows]:
        done = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                "--instr-atstart=no",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                "-m",
                "bench.instructions",
                "--inside",
                f"{workflow}:{backend}",
                "--pg-url",
                args.pg_url,
                "--requests",
                str(args.requests),
                "--warmup",
                str(args.warmup),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, BENCH_UNDER_CALLGRIND="1"),
            check=False,
        )
        counted = re.search(r"Collected : ([\d,]+)", done.stderr)
        statuses = re.search(r"BENCH_STATUSES \S+ (.*)", done.stdout)
        if done.returncode != 0 or counted is None:
            print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
            return 1
        total = int(counted.group(1).replace(",", ""))
        print(
            f"{backend} {workflow}: {total // args.requests:,} instructions per request "
            f"({args.requests} requests, answers {statuses.group(1) if statuses else '?'})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
