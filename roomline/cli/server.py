"""``roomline serve`` and ``roomline demo``.

The parent process migrates (and for the demo, seeds) the database once, then hands the
settings to uvicorn's worker processes through ``ROOMLINE_*`` variables.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import uvicorn

from roomline.api.background_process import background_process
from roomline.api.connections import header_timeout_protocol
from roomline.api.metrics import MULTIPROCESS_DIRECTORY
from roomline.api.observability import logging_config
from roomline.cli.common import reporting_errors
from roomline.cli.listening import check_can_listen
from roomline.cli.options import (
    AccessLog,
    DatabaseUrl,
    Host,
    Port,
    RedisUrl,
    UltimoQuotas,
    Workers,
)
from roomline.config import Settings, export_to_environment, settings_from
from roomline.domain.errors import FixtureRejected
from roomline.domain.times import parse_instant, zone_named
from roomline.services import clock, standin
from roomline.services import demo as demo_data
from roomline.services.fixtures import Fixture, load_fixture, read_fixture
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade


def serve(
    host: Annotated[str | None, Host] = None,
    port: Annotated[int | None, Port] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
    workers: Annotated[int | None, Workers] = None,
    ultimo_quotas: Annotated[bool | None, UltimoQuotas] = None,
    redis_url: Annotated[str | None, RedisUrl] = None,
    access_log: Annotated[bool | None, AccessLog] = None,
) -> None:
    """Run the server on the configured database (default: ./roomline.db), migrated on start."""
    with reporting_errors():
        settings = settings_from(
            host=host,
            port=port,
            database_url=database_url,
            workers=workers,
            ultimo_quotas=ultimo_quotas,
            redis_url=redis_url,
            access_log=access_log,
        )
        check_can_listen(settings.host, settings.port)
        prepare_database(settings)
    run(settings)


def demo(
    host: Annotated[str | None, Host] = None,
    port: Annotated[int | None, Port] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
    workers: Annotated[int | None, Workers] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Pin the clock at this ISO 8601 instant, or 'system' for the real clock "
            f"[env: ROOMLINE_NOW; a new demo database starts at {demo_data.DEMO_NOW}]",
        ),
    ] = None,
    strict: Annotated[
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="Refuse every deviation from the documented contract [env: ROOMLINE_STRICT]",
            show_default=False,
        ),
    ] = None,
    ultimo_quotas: Annotated[bool | None, UltimoQuotas] = None,
    redis_url: Annotated[str | None, RedisUrl] = None,
    access_log: Annotated[bool | None, AccessLog] = None,
    fixture: Annotated[
        Path | None,
        typer.Option(
            "--fixture",
            help="Load these spaces, people, keys, reservations and clock (JSON or TOML) "
            "instead of the playground data; see docs/testing-integrations.md "
            "[env: ROOMLINE_FIXTURE]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the server with the demo data of Ultimo's documentation playground, or a
    fixture's."""
    scratch: Path | None = None
    with reporting_errors():
        settings = settings_from(
            host=host,
            port=port,
            database_url=database_url,
            workers=workers,
            now=now,
            strict=strict,
            ultimo_quotas=ultimo_quotas,
            redis_url=redis_url,
            access_log=access_log,
            demo=True,
            fixture=str(fixture) if fixture is not None else None,
        )
        if settings.now is not None:
            demo_clock(settings.now)  # a wrong --now is refused before anything is made
    checked = _read_fixture(Path(settings.fixture)) if settings.fixture else None
    if checked is not None and checked.application_element_ids:
        ids = {**settings.application_element_ids, **checked.application_element_ids}
        settings = settings.model_copy(update={"application_element_ids": ids})
    with reporting_errors():
        check_can_listen(settings.host, settings.port)
    if not {"web_time_zone", "default_time_zone"} & settings.model_fields_set:
        settings = settings.model_copy(update={"web_time_zone": demo_data.DEMO_TIME_ZONE})
    if "database_url" not in settings.model_fields_set:
        scratch = Path(tempfile.mkdtemp(prefix="roomline-demo-"))
        settings = settings.model_copy(update={"database_url": f"sqlite:///{scratch / 'demo.db'}"})
    new_token = None
    if "admin_token" not in settings.model_fields_set:  # a blank one disables it on purpose
        new_token = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"admin_token": new_token})
    if scratch is not None:
        # uvicorn re-raises SIGTERM once it has shut down; exiting through SystemExit
        # instead lets the ``finally`` below remove the temporary database.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        with reporting_errors():
            try:
                prepare_database(settings, checked)
            except FixtureRejected as exc:
                _refuse_fixture(exc)
        if new_token is not None:  # once the demo is sure to start
            typer.echo(
                f"roomline demo: admin token (web view sign-in, /api/manage, /api/demo) is "
                f"{new_token}",
                err=True,
            )
        run(settings)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _read_fixture(path: Path) -> Fixture:
    try:
        return read_fixture(path)
    except FixtureRejected as exc:
        _refuse_fixture(exc)


def _refuse_fixture(exc: FixtureRejected) -> NoReturn:
    """Print ``error: ...`` and then every problem, one a line."""
    typer.echo(f"error: {exc.message}:", err=True)
    for problem in exc.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(1)


def prepare_database(settings: Settings, fixture: Fixture | None = None) -> None:
    """Migrate the database; for the demo, load the fixture (or seed the playground data
    if empty), set the clock and take the snapshot that a reset returns to."""
    database = Database(settings.database_url)
    try:
        upgrade(database)
        if settings.demo:
            if fixture is not None:
                load_fixture(database, fixture)
            else:
                demo_data.seed_if_empty(database)
            if settings.now is not None:
                set_clock(database, settings.now)
            standin.prepare(database)
    finally:
        database.dispose()


def demo_clock(now: str) -> datetime | None:
    """Read ``--now``: the instant to pin the clock at, or None for the system clock."""
    if now.strip().lower() == "system":
        return None
    return parse_instant("--now", now, zone_named("UTC"))


def set_clock(database: Database, now: str) -> None:
    pinned = demo_clock(now)
    with database.write() as conn:
        if pinned is None:
            clock.shift(conn, 0)
        else:
            clock.pin(conn, pinned)


def run(settings: Settings) -> None:
    export_to_environment(settings)
    # With one worker, metrics stay in that worker's memory (prometheus-client chose so
    # when this process imported it); the background process's own counters then show
    # only with several workers, whose shared directory it writes to as well.
    with metrics_directory(settings.workers), background_process(settings):
        _run_uvicorn(settings)


@contextmanager
def metrics_directory(workers: int) -> Iterator[None]:
    """Give several workers (and the background process) a directory of their own for
    their metrics; remove it after.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` when a worker imports it, and
    then keeps that worker's values in files there, which ``/metrics`` sums. One worker
    counts in memory; a directory left in the environment by anyone else is not used, as
    files of another server (or of an earlier run) would be summed in.
    """
    previous = os.environ.pop(MULTIPROCESS_DIRECTORY, None)
    directory = Path(tempfile.mkdtemp(prefix="roomline-metrics-")) if workers > 1 else None
    if directory is not None:
        os.environ[MULTIPROCESS_DIRECTORY] = str(directory)
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIRECTORY, None)
        if previous is not None:
            os.environ[MULTIPROCESS_DIRECTORY] = previous
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _run_uvicorn(settings: Settings) -> None:
    uvicorn.run(
        "roomline.api.app:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_format, settings.log_level, settings.access_log),
        access_log=False,  # roomline.access logs every request, with its request id
        # Only RequestObservability reads X-Forwarded-For, and only from trusted proxies.
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        http=header_timeout_protocol(settings.header_timeout_seconds),
    )
