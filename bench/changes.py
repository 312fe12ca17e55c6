"""Benchmark (not a test): being told of changes under write load.

    python -m bench.changes [--backend sqlite|postgresql] [--reservations 10000]
                            [--duration 10] [--connections 16] [--workers 1]
                            [--listen webhook,stream] [--pairs 2] [--rate 100]
                            [--receiver-host 127.0.0.1] [--panels]

Seeds a fresh database (``bench.seed``), serves it with ``roomline serve``, warms it up
with a few seconds of Create, and then drives Create with wrk (bench/load.lua) in
``--pairs`` pairs of phases on the same server, interleaved A L L A …:

- A, alone: nothing listening;
- L, listened: a webhook subscribed to ``reservation.created`` (a receiver in this
  process answering 204) and a client reading ``/api/booking/changes/stream``; both
  stop after the phase (the subscription removed, the stream closed), once every change
  of the phase has arrived.

``--listen floor`` listens with ``bench.webhook_floor`` instead of a subscribed webhook: a
sender in a process of its own that reads the log and POSTs each change to the same
receiver with roomline's own client, and writes nothing. It keeps none of the promises
(a delivery durable before it is sent, retries, one sender at a time), so it is the least
a webhook of each change can cost Create on the machine, as ``bench --floor`` is the
least a request can cost; its CPU is printed as the background's.

``--receiver-host localhost`` subscribes the webhook by name (each attempt then needs the
name's addresses), and ``--panels`` reads the stream as door panels do: one stream for
each seeded space (``?space=``), a hundred by default, instead of one for every change.

One pair in a single order was not enough: on this 2-core machine two 10 s phases of
the same load differ by up to 15%, and a fresh server's first phase ran fastest.

It prints each phase with where its CPU went, per change: the server's workers, its
background process (which sends the webhooks), PostgreSQL, wrk, and this process (the
receiver and the stream reader, which in production run elsewhere), counted until every
change of the phase has arrived, and how idle the machine stood while wrk ran. Then the
mean throughput of each kind and their ratio (target: with listeners within 10% of
without), each pair's own ratio with the standard error of their mean (how far one
run's ratio can be trusted), and how long each change took to reach the receiver and the
stream client: from the change's time (``at``, taken by the server as the write
began) to the moment the event arrived here, p50 and p99 (targets 200 ms and 1 s), at
wrk's full load and then at a steady ``--rate`` of creates a second (a busy building,
not a flood). Every change must arrive: the run fails (exit 1) if one is missing or the
harness breaks, never because of speed.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import resource
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import processes
from bench.processes import Load, free_port
from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database, _postgres_database
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


async def _read_streams(base_url: str, key: str, into: Arrivals, spaces: list[str]) -> None:
    """Read the change stream until cancelled: one for every change, or (``spaces``) one
    for each of these spaces, as a door panel does."""
    limits = httpx.Limits(max_connections=len(spaces) + 1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=60), limits=limits) as client:
        if not spaces:
            await _read_stream(client, f"{base_url}/api/booking/changes/stream", key, into)
            return
        await asyncio.gather(
            *(
                _read_stream(
                    client, f"{base_url}/api/booking/changes/stream?space={space}", key, into
                )
                for space in spaces
            )
        )


async def _read_stream(client: httpx.AsyncClient, url: str, key: str, into: Arrivals) -> None:
    async with client.stream("GET", url, headers={"ApiKey": key}) as answer:
        answer.raise_for_status()
        async for line in answer.aiter_lines():
            if line.startswith("data:"):
                into.arrived(json.loads(line[5:]))


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
        "--listen",
        default="webhook,stream",
        help="who listens in the listened phases: webhook, stream, floor [webhook,stream]",
    )
    parser.add_argument(
        "--rate", type=int, default=100, help="creates per second of the steady run [100]"
    )
    parser.add_argument(
        "--receiver-host",
        default="127.0.0.1",
        help="the webhook URL's host: an address, or a name such as localhost, which each "
        "attempt resolves [127.0.0.1]",
    )
    parser.add_argument(
        "--panels",
        action="store_true",
        help="the stream listener is one stream for each seeded space (?space=), as door "
        "panels read it, instead of one stream for every change",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=2,
        help="phases alone and listened, interleaved A L L A ... [2]",
    )
    options = parser.parse_args(argv)
    listening = set(_listening(options))
    if not listening <= {"webhook", "stream", "floor"} or {"webhook", "floor"} <= listening:
        parser.error("--listen takes webhook, stream and floor (floor in the webhook's stead)")
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
                "ROOMLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8;::1/128",
            }
            with processes.running(
                "changes", command, "/healthz", work, port, environment
            ) as server:
                server.database_name = _postgres_database(url)
                return _measure(wrk, server, key, layout, load, options, url)


def _measure(
    wrk: str,
    server: processes.Server,
    key: str,
    layout: Any,
    load: Load,
    options: argparse.Namespace,
    database_url: str,
) -> int:
    base_url = server.base_url
    environment = layout.environment()
    names = _listening(options)
    panels = [space_id(n) for n in range(options.spaces)] if options.panels else []
    listeners = Listeners(base_url, key, names, options.receiver_host, panels, database_url)
    # A fresh server's first seconds of Create run faster than the rest (1,272 then about
    # 1,000/s, measured): warm it up before any phase is measured.
    processes.run_wrk(wrk, base_url, "create", Load(1, load.connections, 3), environment, 1)
    rates: dict[str, list[float]] = {"alone": [], "listened": []}
    made: list[str] = []
    complete = True
    for pair in range(options.pairs):
        # A L, then L A, and so on: a drift of the machine's speed over the run weighs
        # on both sides alike.
        for phase in ("alone", "listened") if pair % 2 == 0 else ("listened", "alone"):
            run = 2 + len(rates["alone"]) + len(rates["listened"])
            if phase == "listened":
                start_cursor = listeners.on()
            before = _CpuSplit.read(server, listeners)
            done = processes.run_wrk(wrk, base_url, "create", load, environment, run)
            under_load = _CpuSplit.read(server, listeners)
            rates[phase].append(done["ok"] / (done["duration_us"] / 1e6))
            print(f"bench.changes: {options.backend}: Create {phase}: {rates[phase][-1]:,.0f}/s")
            if phase == "listened":
                made += _created_ids(base_url, key, start_cursor)
                complete &= _all_arrived(made, listeners.arrivals)
                listeners.off()
            # Until every change of the phase has arrived: a delivery's work counts even
            # when it ends after wrk's last request.
            print(
                f"bench.changes:   "
                f"{before.per_change(_CpuSplit.read(server, listeners), under_load, done['ok'])}"
            )
    alone, listened = statistics.mean(rates["alone"]), statistics.mean(rates["listened"])
    ratio = listened / alone if alone else 0.0
    print(
        f"bench.changes: {options.backend}: Create alone {alone:,.0f}/s, with "
        f"{' and '.join(names) or 'nothing'} listening {listened:,.0f}/s (means of "
        f"{options.pairs} phases each): {ratio:.2f}x alone "
        f"({'within' if ratio >= THROUGHPUT_TARGET else 'OVER'} the 10% target)"
    )
    print(f"bench.changes: {options.backend}: {_pair_spread(rates)}")
    complete &= _report(made, listeners.arrivals, f"{options.backend} at full load")

    # A steady load, as a busy building makes: how fast is each change told?
    listeners.clear()
    start_cursor = listeners.on()
    sent = asyncio.run(_steady_creates(base_url, key, layout, options.rate, options.duration))
    made = _created_ids(base_url, key, start_cursor)
    complete &= _all_arrived(made, listeners.arrivals) and sent > 0
    complete &= _report(made, listeners.arrivals, f"{options.backend} at {options.rate}/s")
    listeners.off()
    return 0 if complete else 1


def _listening(options: argparse.Namespace) -> list[str]:
    """The listeners ``--listen`` names, each once, sorted."""
    return sorted({part.strip() for part in options.listen.split(",") if part.strip()})


def _pair_spread(rates: dict[str, list[float]]) -> str:
    """Each pair's own ratio, and how far their mean can be trusted: two phases of the same
    load differ by up to 15 % on this machine, so one ratio does not settle 10 %."""
    ratios = [
        listened / alone for alone, listened in zip(rates["alone"], rates["listened"], strict=True)
    ]
    shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    if len(ratios) < 2:
        return f"the pair's ratio {shown}"
    mean = statistics.mean(ratios)
    error = statistics.stdev(ratios) / len(ratios) ** 0.5
    return (
        f"each pair's ratio {shown}: mean {mean:.2f}, standard error {error:.2f} "
        f"(mean ± 2 standard errors: {mean - 2 * error:.2f}–{mean + 2 * error:.2f})"
    )


class _CpuSplit:
    """CPU seconds so far of the server's workers, its background process (which sends the
    webhooks; with ``--listen floor``, the floor's sender in its stead), PostgreSQL's
    processes serving the database, wrk, and this process (the webhook receiver and the
    stream reader): where a listened change's cost goes."""

    def __init__(
        self, reading: processes.CpuReading, background: set[int], own: float, floor: float
    ) -> None:
        self.reading, self.background, self.own, self.floor = reading, background, own, floor

    @classmethod
    def read(cls, server: processes.Server, listeners: Listeners) -> _CpuSplit:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        reading = processes.cpu_reading(server)
        background = {pid for pid in reading.server if _is_background(pid)}
        return cls(reading, background, usage.ru_utime + usage.ru_stime, listeners.floor_cpu())

    def per_change(self, later: _CpuSplit, under_load: _CpuSplit, changes: int) -> str:
        """CPU µs a change from here to ``later``; the machine's idle share until
        ``under_load`` (while wrk ran)."""

        def used(pick: Callable[[int], bool]) -> float:
            after = {p: v for p, v in later.reading.server.items() if pick(p)}
            return processes.cpu_grown(self.reading.server, after) / max(changes, 1) * 1e6

        floor = (later.floor - self.floor) / max(changes, 1) * 1e6

        split = self.reading.per_request(later.reading, changes)
        idle = self.reading.per_request(under_load.reading, changes)["idle_percent"]
        own = (later.own - self.own) / max(changes, 1) * 1e6
        return (
            f"CPU a change: workers {used(lambda p: p not in later.background):.0f} µs, "
            f"background {used(lambda p: p in later.background) + floor:.0f} µs, PostgreSQL "
            f"{split['database_us']:.0f} µs, wrk {split['wrk_us']:.0f} µs, receiver and "
            f"stream reader {own:.0f} µs; machine idle {idle:.0f} % under load"
        )


def _is_background(pid: int) -> bool:
    try:
        return b"roomline.api.background_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Listeners:
    """The webhook receiver and the stream reader, on an event loop of their own (in a
    thread), listening only between ``on`` and ``off``: the webhook subscribed, the stream
    open."""

    def __init__(
        self,
        base_url: str,
        key: str,
        names: list[str],
        receiver_host: str,
        panels: list[str],
        database_url: str,
    ) -> None:
        self.base_url, self.key, self.names = base_url, key, names
        self.receiver_host, self.panels, self.database_url = receiver_host, panels, database_url
        self.arrivals = {name: Arrivals() for name in names}
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.receiver_port = free_port()
        ready = threading.Event()
        asyncio.run_coroutine_threadsafe(
            _receive_webhooks(self.receiver_port, self._received(), ready),
            self.loop,
        )
        if not ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")
        self.subscription: int | None = None
        self.stream: concurrent.futures.Future[None] | None = None
        self.floor: int | None = None  # the floor's sender (its pid)
        self.floor_spent = 0.0  # CPU seconds of the floor's senders that have ended

    def _received(self) -> Arrivals:
        """Where the receiver counts what arrives: the webhook's or the floor's."""
        for name in ("webhook", "floor"):
            if name in self.arrivals:
                return self.arrivals[name]
        return Arrivals()

    def floor_cpu(self) -> float:
        """CPU seconds the floor's senders have used so far."""
        running = 0.0 if self.floor is None else processes.cpu_seconds(self.floor)
        return self.floor_spent + running

    def on(self) -> str:
        """Start listening; return the log's cursor before it."""
        if "webhook" in self.names:
            self.subscription = _subscribe(self.base_url, self.receiver_host, self.receiver_port)
        start_cursor = _latest_cursor(self.base_url, self.key)
        if "floor" in self.names:
            url = f"http://{self.receiver_host}:{self.receiver_port}/hook"
            self.floor = _start_floor(self.database_url, url, start_cursor)
        if "stream" in self.names:
            self.stream = asyncio.run_coroutine_threadsafe(
                _read_streams(self.base_url, self.key, self.arrivals["stream"], self.panels),
                self.loop,
            )
        # The stream is open, and the background process has seen the subscription (it
        # looks for new ones every second), before the first change.
        time.sleep(2)
        return start_cursor

    def off(self) -> None:
        if self.subscription is not None:
            httpx.delete(
                f"{self.base_url}/api/manage/webhooks/{self.subscription}",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            ).raise_for_status()
            self.subscription = None
        if self.stream is not None:
            if self.stream.done():  # it ended on its own: a broken stream fails the run
                self.stream.result()
            self.stream.cancel()
            self.stream = None
        if self.floor is not None:
            self.floor_spent += processes.cpu_seconds(self.floor)
            with suppress(ProcessLookupError):  # it died: what it missed fails the run
                os.kill(self.floor, signal.SIGKILL)
            self.floor = None

    def clear(self) -> None:
        for arrivals in self.arrivals.values():
            arrivals.latency_ms.clear()


def _start_floor(database_url: str, receiver_url: str, cursor: str) -> int:
    """Start ``bench.webhook_floor``; return its pid. Started through a shell that exits at
    once, so that it is not this process's child: its CPU must not be counted as wrk's
    (``RUSAGE_CHILDREN``), but as the background's. What it prints goes to this process's
    standard error."""
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "bench.webhook_floor",
            database_url,
            receiver_url,
            cursor,
            str(os.getpid()),
        ]
    )
    shell = subprocess.run(
        ["/bin/sh", "-c", f"{command} >/dev/null & echo $!"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=processes.REPO,
    )
    return int(shell.stdout.strip())


def _all_arrived(made: list[str], listening: dict[str, Arrivals]) -> bool:
    """Wait (two minutes at most) until every change of ``made`` reached every listener."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(all(i in got.latency_ms for i in made) for got in listening.values()):
            return bool(made)
        time.sleep(0.2)
    return False


def _report(made: list[str], listening: dict[str, Arrivals], load: str) -> bool:
    """Print each listener's latencies for the changes ``made``; False if one is missing."""
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


def _subscribe(base_url: str, receiver_host: str, receiver_port: int) -> int:
    subscribed = httpx.post(
        f"{base_url}/api/manage/webhooks",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={
            "url": f"http://{receiver_host}:{receiver_port}/hook",
            "events": ["reservation.created"],
        },
        timeout=30,
    )
    subscribed.raise_for_status()
    return int(subscribed.json()["id"])


if __name__ == "__main__":
    sys.exit(main())
