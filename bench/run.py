"""One benchmark run: the ceiling, then each backend × size × workers × workflow, then the report.

For every backend (SQLite; PostgreSQL when it answers) and every size, a fresh database
is created and seeded in bulk (bench/seed.py). Then, for each number of worker processes
asked for (``--workers 1,2``), it is served by ``roomline serve`` with its production
settings, warmed up, and driven by wrk through Get, Create, Update and Cancel in that
order; with ``--floor``, the backend's floor (bench/floor.py, bench/floor_pg.py) is
served on it after roomline with as many workers and driven through Get and Create. The
database is dropped afterwards. Every number of workers sees the same database, so the
later ones meet the reservations the earlier ones' Creates added and Cancels cancelled.
"""

from __future__ import annotations

import platform
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bench import processes, profile, report
from bench.processes import Load, free_port
from bench.seed import Layout, seed
from roomline.storage.database import Database

WORKFLOWS = {"Get": "get", "Create": "create", "Update": "update", "Cancel": "cancel"}
# roomline's own /api/booking reads (``--workflows Reservation,Schedule``; not run by
# default, so the default run stays comparable with earlier ones).
BOOKING_WORKFLOWS = {"Reservation": "reservation", "Schedule": "schedule"}
ALL_WORKFLOWS = {**WORKFLOWS, **BOOKING_WORKFLOWS}
FLOOR_WORKFLOWS = ("Get", "Create")  # what the floors answer
# Each backend's floor: its ASGI app and the environment variable naming its database.
FLOORS = {
    "sqlite": ("bench.floor:app", "BENCH_FLOOR_DATABASE"),
    "postgresql": ("bench.floor_pg:app", "BENCH_FLOOR_PG_URL"),
}
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Plan:
    """What one invocation of ``python -m bench`` measures."""

    sizes: list[int]
    backends: list[str]
    spaces: int
    workers: list[int]
    load: Load
    warmup_seconds: int
    pg_admin_url: str
    label: str
    profile: bool = False
    floor: bool = False
    serve_options: tuple[str, ...] = ()
    workflows: list[str] = field(default_factory=lambda: list(WORKFLOWS))


def measure(plan: Plan) -> tuple[dict[str, Any], bool]:
    """Run ``plan``; return the report and whether every workflow behaved (no errors)."""
    wrk = processes.ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="roomline-bench-"))
    print(f"bench: logs and databases under {work}", flush=True)
    result: dict[str, Any] = {
        "label": plan.label,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "load": {
            "threads": plan.load.threads,
            "connections": plan.load.connections,
            "seconds": plan.load.seconds,
            "warmup_seconds": plan.warmup_seconds,
            "server_workers": list(plan.workers),
            "serve_options": list(plan.serve_options),
        },
        "runs": [],
        "skipped": [],
        "profiles": {},
    }
    counter = iter(range(1, 1_000_000))
    result["ceilings"] = []
    for workers in plan.workers:
        ceiling = _ceiling(wrk, plan, workers, work, counter)
        result["ceilings"].append(ceiling)
        _print_line(f"ceiling, {workers} worker(s)", ceiling)
    for backend in plan.backends:
        reason = _unavailable(backend, plan.pg_admin_url)
        if reason is not None:
            result["skipped"].append(f"{backend} skipped: {reason}")
            print(f"bench: {backend} skipped: {reason}", flush=True)
            continue
        for size in plan.sizes:
            runs = _run_backend(wrk, plan, backend, size, work, counter, result["profiles"])
            result["runs"].extend(runs)
    healthy = all(
        w["errors"] == 0 and w["ok"] > 0
        for run in result["runs"]
        for w in [*run["workflows"].values(), *run.get("floor", {}).values()]
    ) and all(ceiling["ok"] > 0 for ceiling in result["ceilings"])
    if healthy and not plan.profile:
        shutil.rmtree(work, ignore_errors=True)  # keep the server logs only when they help
    return result, healthy


def _ceiling(
    wrk: str, plan: Plan, workers: int, work: Path, counter: Iterator[int]
) -> dict[str, Any]:
    port = free_port()
    command = processes.uvicorn_command("bench.ceiling:app", port, workers)
    dummy = Layout(plan.spaces, 8, datetime.now(UTC) + timedelta(days=1), "0" * 32)
    with processes.running(f"ceiling-{workers}", command, "/", work, port) as server:
        if plan.warmup_seconds:
            warm = Load(plan.load.threads, plan.load.connections, plan.warmup_seconds)
            processes.run_wrk(wrk, server.base_url, "get", warm, dummy.environment(), next(counter))
        return {"workers": workers, **_drive(wrk, plan, server, "get", dummy, next(counter), None)}


def _run_backend(
    wrk: str,
    plan: Plan,
    backend: str,
    size: int,
    work: Path,
    counter: Iterator[int],
    profiles: dict[str, Any],
) -> list[dict[str, Any]]:
    """Seed one database of ``size`` and measure it with each number of workers."""
    with _fresh_database(backend, work, plan.pg_admin_url) as url:
        database = Database(url)
        started = time.monotonic()
        try:
            layout = seed(
                database,
                spaces_count=plan.spaces,
                total=size,
                api_key=secrets.token_hex(16).upper(),
            )
        finally:
            database.dispose()
        seed_seconds = time.monotonic() - started
        print(
            f"bench: {backend}: seeded {layout.reservations:,} reservations "
            f"in {seed_seconds:.1f} s",
            flush=True,
        )
        runs = []
        for workers in plan.workers:
            run: dict[str, Any] = {
                "backend": backend,
                "reservations": layout.reservations,
                "spaces": layout.spaces,
                "workers": workers,
                "seed_seconds": round(seed_seconds, 2),
                "workflows": _serve_roomline(
                    wrk, plan, backend, workers, url, layout, work, counter, profiles
                ),
            }
            if plan.floor:
                run["floor"] = _floor(wrk, plan, backend, workers, url, layout, work, counter)
            runs.append(run)
        return runs


def _serve_roomline(
    wrk: str,
    plan: Plan,
    backend: str,
    workers: int,
    url: str,
    layout: Layout,
    work: Path,
    counter: Iterator[int],
    profiles: dict[str, Any],
) -> dict[str, Any]:
    """Serve the seeded database with ``roomline serve`` and drive each workflow."""
    port = free_port()
    command = processes.roomline_command(url, port, workers, plan.serve_options)
    name = f"roomline-{backend}-{layout.reservations}-w{workers}"
    measured: dict[str, Any] = {}
    with processes.running(name, command, "/healthz", work, port) as server:
        server.database_name = _postgres_database(url)
        if plan.warmup_seconds:
            warm = Load(plan.load.threads, plan.load.connections, plan.warmup_seconds)
            processes.run_wrk(wrk, server.base_url, "get", warm, layout.environment(), 0)
        for title in plan.workflows:
            raw = work / f"{name}-{title}.pyspy.txt" if plan.profile else None
            result = _drive(
                wrk, plan, server, ALL_WORKFLOWS[title], layout, next(counter), raw, workers
            )
            measured[title] = result
            _print_line(f"{backend} {layout.reservations:,} w{workers} {title}", result)
            if raw is not None:
                summary = profile.summarise(raw)
                profiles[f"{backend} {layout.reservations} w{workers} {title}"] = summary
                print(profile.render(summary), flush=True)
    return measured


def _floor(
    wrk: str,
    plan: Plan,
    backend: str,
    workers: int,
    url: str,
    layout: Layout,
    work: Path,
    counter: Iterator[int],
) -> dict[str, Any]:
    """Serve the backend's floor on the seeded database and drive its Get and Create."""
    app, variable = FLOORS[backend]
    port = free_port()
    command = processes.uvicorn_command(app, port, workers)
    name = f"floor-{backend}-{layout.reservations}-w{workers}"
    measured: dict[str, Any] = {}
    environment = {variable: url.removeprefix("sqlite:///") if backend == "sqlite" else url}
    with processes.running(name, command, "/", work, port, environment) as server:
        server.database_name = _postgres_database(url)
        if plan.warmup_seconds:
            warm = Load(plan.load.threads, plan.load.connections, plan.warmup_seconds)
            processes.run_wrk(wrk, server.base_url, "get", warm, layout.environment(), 0)
        for title in [title for title in plan.workflows if title in FLOOR_WORKFLOWS]:
            result = _drive(wrk, plan, server, ALL_WORKFLOWS[title], layout, next(counter), None)
            measured[title] = result
            _print_line(f"floor {backend} {layout.reservations:,} w{workers} {title}", result)
    return measured


def _postgres_database(url: str) -> str | None:
    return url.rsplit("/", 1)[1] if url.startswith("postgresql") else None


def _drive(
    wrk: str,
    plan: Plan,
    server: processes.Server,
    workflow: str,
    layout: Layout,
    run_number: int,
    raw_profile: Path | None,
    workers: int = 1,
) -> dict[str, Any]:
    server.reset_peak_rss()
    cpu_before = processes.cpu_reading(server)
    if raw_profile is None:
        measured = processes.run_wrk(
            wrk, server.base_url, workflow, plan.load, layout.environment(), run_number
        )
    else:
        with processes.profiling(
            server.process.pid, plan.load.seconds, raw_profile, subprocesses=workers > 1
        ):
            measured = processes.run_wrk(
                wrk, server.base_url, workflow, plan.load, layout.environment(), run_number
            )
    cpu = cpu_before.per_request(processes.cpu_reading(server), measured["requests"])
    seconds = measured["duration_us"] / 1e6
    errors = measured["bad_responses"] + measured["socket_errors"]
    largest_rss, total_rss = server.peak_rss_bytes()
    if measured["stderr"]:
        print(f"bench: wrk said: {measured['stderr']}", file=sys.stderr, flush=True)
    return {
        "requests": measured["requests"],
        "requests_per_second": round(measured["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": measured["p50_us"] / 1000,
        "p99_ms": measured["p99_us"] / 1000,
        "max_ms": measured["max_us"] / 1000,
        "ok": measured["ok"],
        "conflicts": measured["conflicts"],
        "errors": errors,
        # The largest single process (a worker): what the 150 MB target bounds.
        "peak_rss_mb": round(largest_rss / 2**20, 1),
        "peak_rss_total_mb": round(total_rss / 2**20, 1),
        # Where the cores went (CPU µs per request), to tell who limits a run.
        "cpu": cpu,
    }


def _print_line(title: str, measured: dict[str, Any]) -> None:
    print(
        f"bench: {title}: {measured['requests_per_second']:,.0f} req/s, "
        f"p50 {measured['p50_ms']:.2f} ms, p99 {measured['p99_ms']:.2f} ms, "
        f"{measured['errors']} errors, {measured['conflicts']} × 1015, "
        f"peak RSS {measured['peak_rss_mb']:.0f} MB (largest process), "
        f"{measured['peak_rss_total_mb']:.0f} MB (all)",
        flush=True,
    )
    cpu = measured.get("cpu")
    if cpu:
        print(
            f"bench:   CPU per request: server {cpu['server_us']:.0f} µs, "
            f"PostgreSQL {cpu['database_us']:.0f} µs, wrk {cpu['wrk_us']:.0f} µs; "
            f"machine idle {cpu['idle_percent']:.0f} %",
            flush=True,
        )


def _unavailable(backend: str, pg_admin_url: str) -> str | None:
    if backend == "sqlite":
        return None
    try:
        engine = create_engine(pg_admin_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except (OperationalError, ImportError) as exc:
        return f"PostgreSQL at {pg_admin_url} is not reachable ({str(exc).splitlines()[0]})"
    return None


@contextmanager
def _fresh_database(backend: str, work: Path, pg_admin_url: str) -> Iterator[str]:
    """Yield the URL of a new database; delete it afterwards."""
    if backend == "sqlite":
        path = work / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"roomline_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _machine() -> dict[str, Any]:
    import os

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        # Other work on the machine skews the numbers; the load average says how much.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_report(result: dict[str, Any]) -> None:
    print()
    print(report.table(result))
    print()
    print(report.comparison(result))
    print()
    print(report.notes(result))
