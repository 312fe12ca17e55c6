"""Benchmark (not a test): being told of changes under write load.

    python -m bench.changes [--backend sqlite|postgresql] [--reservations 10000]
                            [--duration 10] [--connections 16] [--workers 1]

Seeds a fresh database (``bench.seed``), serves it with ``roomline serve``, and drives
Create with wrk (bench/load.lua) twice on the same server:

1. with nothing listening: Create's throughput alone;
2. with a webhook subscribed to ``reservation.created`` (a receiver in this process
   answering 204) and a client reading ``/api/booking/changes/stream``.

It prints both throughputs and their ratio (target: with listeners within 10% of
without), and how long each change took to reach the receiver and the stream client:
from the change's time (``at``, taken by the server as the write began) to the moment
the event arrived here, p50 and p99 (targets 200 ms and 1 s), at wrk's full load and
then at a steady ``--rate`` of creates a second (a busy building, not a flood). Every
change must arrive: the run fails (exit 1) if one is missing or the harness breaks,
never because of speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import processes
from bench.processes import Load, free_port
from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database
from bench.seed import person_id, seed, space_id
from roomline.storage.database import Database

ADMIN_TOKEN = "bench-admin-token"
P50_TARGET_MS = 200
P99_TARGET_MS = 1000
THROUGHPUT_TARGET = 0.9


class Arrivals:
    """Latencies of arrived events by UltimoId, from one listener."""

    def __init__(self) -> None:
        self.latency_ms: dict[str, float] = {}
        self.lock = threading.Lock()

    def arrived(self, event: dict[str, Any]) -> None:
        now = time.time()
        at = datetime.fromisoformat(event["at"]).timestamp()
        with self.lock:
            self.latency_ms.setdefault(event["reservation"]["ultimo_id"], (now - at) * 1000)


async def _receive_webhooks(port: int, into: Arrivals, ready: threading.Event) -> None:
    """A minimal HTTP/1.1 receiver: reads each request, answers 204, keeps the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                into.arrived(json.loads(body)["data"])
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    ready.set()
    async with server:
        await server.serve_forever()


def _read_stream(base_url: str, key: str, into: Arrivals, stop: threading.Event) -> None:
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=60)) as client,
            client.stream(
                "GET", f"{base_url}/api/booking/changes/stream", headers={"ApiKey": key}
            ) as answer,
        ):
            answer.raise_for_status()
            for line in answer.iter_lines():
                if line.startswith("data:"):
                    into.arrived(json.loads(line[5:]))
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the server stopping at the end is no failure
            raise


def _created_ids(base_url: str, key: str, after: str) -> list[str]:
    """Every reservation created after cursor ``after``, from the change feed."""
    made: list[str] = []
    with httpx.Client(timeout=60) as client:
        while True:
            page = client.get(
                f"{base_url}/api/booking/changes",
                params={"after": after, "limit": 1000},
                headers={"ApiKey": key},
            ).json()
            made += [
                e["reservation"]["ultimo_id"]
                for e in page["events"]
                if e["type"] == "reservation.created"
            ]
            if not page["events"]:
                return made
            after = page["next"]


def _latest_cursor(base_url: str, key: str) -> str:
    """The cursor after every change so far."""
    after = None
    with httpx.Client(timeout=60) as client:
        while True:
            params = {"limit": 1000} if after is None else {"after": after, "limit": 1000}
            page = client.get(
                f"{base_url}/api/booking/changes", params=params, headers={"ApiKey": key}
            ).json()
            after = page["next"]
            if not page["events"]:
                return str(after)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.changes", description=__doc__)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--reservations", type=int, default=10_000)
    parser.add_argument("--spaces", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument(
        "--listen", default="webhook,stream", help="who listens in the second run [webhook,stream]"
    )
    parser.add_argument(
        "--rate", type=int, default=100, help="creates per second of the steady run [100]"
    )
    options = parser.parse_args(argv)
    wrk = processes.ensure_wrk()
    load = Load(1, options.connections, options.duration)
    with tempfile.TemporaryDirectory(prefix="roomline-bench-changes-") as folder:
        work = Path(folder)
        with _fresh_database(options.backend, work, options.pg_url) as url:
            database = Database(url)
            key = secrets.token_hex(16).upper()
            try:
                layout = seed(
                    database, spaces_count=options.spaces, total=options.reservations, api_key=key
                )
            finally:
                database.dispose()
            port = free_port()
            command = processes.roomline_command(url, port, options.workers, ("--no-access-log",))
            environment = {
                "ROOMLINE_ADMIN_TOKEN": ADMIN_TOKEN,
                "ROOMLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            }
            with processes.running(
                "changes", command, "/healthz", work, port, environment
            ) as server:
                return _measure(wrk, server.base_url, key, layout, load, options)


def _measure(
    wrk: str, base_url: str, key: str, layout: Any, load: Load, options: argparse.Namespace
) -> int:
    environment = layout.environment()
    alone = processes.run_wrk(wrk, base_url, "create", load, environment, 1)
    alone_rate = alone["ok"] / (alone["duration_us"] / 1e6)
    print(f"bench.changes: {options.backend}: Create alone: {alone_rate:,.0f} created/s")

    receiver_port = free_port()
    webhook, stream = Arrivals(), Arrivals()
    ready, stop = threading.Event(), threading.Event()
    threading.Thread(
        target=lambda: asyncio.run(_receive_webhooks(receiver_port, webhook, ready)), daemon=True
    ).start()
    ready.wait(10)
    listeners = {part.strip() for part in options.listen.split(",") if part.strip()}
    if "webhook" in listeners:
        _subscribe(base_url, receiver_port)
    start_cursor = _latest_cursor(base_url, key)
    if "stream" in listeners:
        threading.Thread(
            target=_read_stream, args=(base_url, key, stream, stop), daemon=True
        ).start()
    time.sleep(1)  # the stream is open before the first change
    listened = processes.run_wrk(wrk, base_url, "create", load, environment, 2)
    listened_rate = listened["ok"] / (listened["duration_us"] / 1e6)
    ratio = listened_rate / alone_rate if alone_rate else 0.0
    print(
        f"bench.changes: {options.backend}: Create with {' and '.join(sorted(listeners))} "
        f"listening: {listened_rate:,.0f} created/s, {ratio:.2f}x alone "
        f"({'within' if ratio >= THROUGHPUT_TARGET else 'OVER'} the 10% target)"
    )
    arrivals = {"webhook": webhook, "stream": stream}
    listening = {name: arrivals[name] for name in sorted(listeners)}
    complete = _report(base_url, key, start_cursor, listening, f"{options.backend} at full load")

    # A steady load, as a busy building makes: how fast is each change told?
    start_cursor = _latest_cursor(base_url, key)
    for got in listening.values():
        got.latency_ms.clear()
    sent = asyncio.run(_steady_creates(base_url, key, layout, options.rate, options.duration))
    complete &= (
        _report(base_url, key, start_cursor, listening, f"{options.backend} at {options.rate}/s")
        and sent > 0
    )
    stop.set()
    return 0 if complete else 1


def _report(base_url: str, key: str, after: str, listening: dict[str, Arrivals], load: str) -> bool:
    """Wait for every change after ``after`` to arrive; print each listener's latencies."""
    made = _created_ids(base_url, key, after)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(
        len(got.latency_ms) < len(made) for got in listening.values()
    ):
        time.sleep(0.2)
    complete = bool(made)
    for name, arrivals in listening.items():
        got = [arrivals.latency_ms[i] for i in made if i in arrivals.latency_ms]
        complete &= len(got) == len(made)
        if not got:
            print(f"bench.changes: {load}: {name}: nothing arrived of {len(made)} changes")
            continue
        p50, p99 = statistics.median(got), _percentile(got, 0.99)
        verdict = "within" if p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS else "OVER"
        print(
            f"bench.changes: {load}: {name}: {len(got):,} of {len(made):,} changes "
            f"arrived, latency p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(got):.0f} ms "
            f"({verdict} the {P50_TARGET_MS} ms / {P99_TARGET_MS} ms targets)"
        )
    return complete


async def _steady_creates(base_url: str, key: str, layout: Any, rate: int, seconds: int) -> int:
    """Book ``rate`` reservations a second for ``seconds``, each in a free slot (after
    what wrk booked: two months later); return how many were created."""
    first = layout.free_from + timedelta(days=60)
    created = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def create(number: int) -> None:
            nonlocal created
            start = first + timedelta(hours=number // layout.spaces)
            answer = await client.post(
                "/api/V1/Action/REST_CreateReservation",
                headers={"ApiKey": key},
                json={
                    "SpaceId": space_id(number % layout.spaces),
                    "ApplicantId": person_id(0),
                    "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "EndTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
            created += answer.status_code == 200

        began = time.monotonic()
        pending = []
        for number in range(rate * seconds):
            await asyncio.sleep(max(0.0, began + number / rate - time.monotonic()))
            pending.append(asyncio.create_task(create(number)))
        await asyncio.gather(*pending)
    return created


def _subscribe(base_url: str, receiver_port: int) -> None:
    subscribed = httpx.post(
        f"{base_url}/api/manage/webhooks",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"url": f"http://127.0.0.1:{receiver_port}/hook", "events": ["reservation.created"]},
        timeout=30,
    )
    subscribed.raise_for_status()


if __name__ == "__main__":
    sys.exit(main())
