"""The app factory: one ``Settings`` in, one ASGI app out."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from roomline import __version__
from roomline.api import audit, booking, demo, errors, feeds, health, metrics, standin
from roomline.api.admin import AdminAccess, AdminGate
from roomline.api.contract import complete_openapi
from roomline.api.docs_ui import install_docs
from roomline.api.guards import BodyLimit, RequestHeaderGuard
from roomline.api.management import IMPORT_PATHS
from roomline.api.management import PREFIX as MANAGEMENT_PREFIX
from roomline.api.management import build_router as build_management_router
from roomline.api.management.common import MAX_IMPORT_BYTES
from roomline.api.observability import RequestObservability
from roomline.api.standin_front import StandInFront
from roomline.compat.ultimo.router import (
    UltimoFastPath,
    UltimoGateway,
    build_router,
)
from roomline.config import Settings
from roomline.domain.errors import FixtureRejected
from roomline.domain.times import zone_named
from roomline.domain.webhooks import Targets
from roomline.services.background import BackgroundWork, Job
from roomline.services.changes import ChangeLog, ChangeWatch, Retention, SharedPages
from roomline.services.clock import clock_for, seconds_of
from roomline.services.demo import DEMO_API_KEY
from roomline.services.door import RELEASE_EVERY_SECONDS, DoorService
from roomline.services.feeds import FeedReader
from roomline.services.fixtures import read_fixture
from roomline.services.limits import (
    Limiter,
    SignInThrottle,
    counters_for,
    parse_rate_limits,
    policy_from,
)
from roomline.services.reservations import ReservationService, hot_paths_for, policy_for
from roomline.services.series import SeriesService
from roomline.services.webhook_delivery import WebhookDelivery
from roomline.services.webhooks import Webhooks
from roomline.storage.database import Database
from roomline.web import install_web

DESCRIPTION = """
roomline speaks the Ultimo REST connector **Reservations** exactly: create, update,
cancel and get reservations at `POST /api/V1/Action/{Workflow}` with an `ApiKey` header.

Errors answer `{"message", "type", "code"}`; the two documented business errors are
`1015` (space not available) and `1166` (reservation in the past). The full catalogue is
in `docs/errors.md`.
"""


class RoomlineApp(FastAPI):
    """FastAPI behind roomline's own front: request id and log line, header guard, and the
    four Ultimo workflows.

    The front runs before Starlette's middleware stack; an Ultimo workflow request is
    answered there (``UltimoFastPath``) and never enters it. Each layer of that stack costs
    little, but a Get is now cheap enough for them to add up. Every other request goes on
    into FastAPI.
    """

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await self.into_fastapi(scope, receive, send)
        else:
            await self.front(scope, receive, send)

    async def into_fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> RoomlineApp:
    """Build the roomline ASGI app for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    zone_named(settings.default_time_zone)  # refuse an unknown default zone at start
    database = Database(
        settings.database_url, settings.database_pool_size, settings.database_wait_seconds
    )
    clock = clock_for(settings.demo)
    service = ReservationService(database, clock, policy_for(settings))
    hot = hot_paths_for(database, clock)
    changes = ChangeLog(
        database,
        clock,
        settings.default_time_zone,
        Retention(settings.event_retention_days, settings.audit_retention_days),
    )
    change_watch = ChangeWatch(changes.latest)
    targets = Targets.from_setting(settings.webhook_allowed_networks)
    webhooks = WebhookDelivery(database, clock, changes, change_watch, targets)
    door = DoorService(service, settings.default_time_zone)
    background = BackgroundWork(
        background_jobs(changes, webhooks, door, demo=settings.demo) if settings.background else []
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        background.start()
        try:
            yield
        finally:
            await background.stop()
            await hot.close()

    app = RoomlineApp(
        title="roomline",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.reservations = service
    app.state.changes = changes
    app.state.change_watch = change_watch
    app.state.stream_pages = SharedPages(changes, hot)
    app.state.webhooks = Webhooks(database, clock, targets)
    app.state.webhook_delivery = webhooks
    app.state.door = door
    app.state.background = background
    app.state.feeds = FeedReader(database, clock, settings.default_time_zone)
    counters = counters_for(
        database,
        settings.redis_url.get_secret_value() if settings.redis_url else None,
        settings.redis_prefix,
    )
    app.state.admin = admin = AdminAccess(
        settings.admin_token,
        SignInThrottle(counters, parse_rate_limits(settings.failed_sign_in_limit)),
    )
    app.state.series = SeriesService(service)
    app.state.ultimo = gateway = UltimoGateway(
        database=database,
        service=service,
        hot=hot,
        application_element_ids=settings.application_element_ids,
        strict=settings.strict,
        limiter=Limiter(
            policy_from(
                settings.rate_limit,
                settings.daily_quota,
                settings.key_rate_limit,
                settings.key_daily_quota,
            ),
            counters,
            # A demo's quotas count in its clock's days and windows, so tests can move
            # past a quota's day; a normal server pays nothing for reading a clock row.
            seconds_of(database, clock) if settings.demo else time.time,
        ),
    )
    errors.install_handlers(app)
    app.include_router(build_router())
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(booking.build_router())
    app.include_router(build_management_router())
    app.include_router(audit.router)
    app.include_router(feeds.router)
    install_docs(app)
    install_web(app, settings, database)
    if settings.demo:
        app.include_router(demo.router)
        app.include_router(standin.router)
    complete_openapi(
        app, settings.application_element_ids, demo_keys(settings) if settings.demo else None
    )
    admin_prefixes = [MANAGEMENT_PREFIX, *([demo.PREFIX] if settings.demo else [])]
    import_limit = max(MAX_IMPORT_BYTES, settings.max_body_bytes)

    def body_limit(path: str) -> int:
        return import_limit if path in IMPORT_PATHS else settings.max_body_bytes

    # Outermost, so every response (errors, 404s and 500s too) gets its request id and
    # log line; then what refuses any request before its body is read (headers, size);
    # the workflows' fast path (which also makes their paths canonical); the admin
    # token's gate only in front of FastAPI, as no workflow path lies under an admin
    # prefix (one layer fewer for every workflow request).
    app.front = RequestObservability(
        RequestHeaderGuard(
            BodyLimit(
                UltimoFastPath(AdminGate(app.into_fastapi, admin, admin_prefixes), gateway),
                body_limit,
            )
        ),
        trusted_proxies=settings.trusted_proxies,
    )
    if settings.demo:
        # Around everything (it must hold uvicorn's own ``send`` to drop a connection),
        # and only here: a normal server never pays for the stand-in's hooks.
        app.front = StandInFront(app.front, database, settings.max_body_bytes)
    return app


def background_jobs(
    changes: ChangeLog, webhooks: WebhookDelivery, door: DoorService, *, demo: bool
) -> list[Job]:
    """The background work of one server process (SPEC §9). A demo's clock can be moved
    at any time, and tests expect to see the effect within seconds: it looks more often."""
    return [
        # Pruning is cheap when there is nothing to prune; every ten minutes is plenty.
        Job("prune_log", 5 if demo else 600, lambda: prune(changes, webhooks) > 0),
        *webhooks.jobs(),
        # Releasing no-shows: one indexed read every 2 s when nothing is due, so a room
        # is free within seconds of its deadline (also when a demo clock is moved).
        Job("release_no_shows", RELEASE_EVERY_SECONDS, lambda: door.release_due() > 0),
    ]


def prune(changes: ChangeLog, webhooks: WebhookDelivery) -> int:
    """Delete what is kept no longer: the log's entries past both retentions (except those
    the webhooks' fan-out has not read), and the deliveries that ended as long ago as the
    feed reaches back. Return how many."""
    pruned = changes.prune(webhooks.fanned_out_through)
    return pruned + webhooks.prune(changes.retention.event_days)


def demo_keys(settings: Settings) -> str:
    """Which API keys a demo has, in words, for its Swagger UI's Authorize dialog."""
    if settings.fixture is None:
        return f"{DEMO_API_KEY} (the documentation's playground key)"
    try:
        keys = read_fixture(settings.fixture).keys
    except FixtureRejected:  # the file changed since the demo checked it at start
        keys = []
    named = ", ".join(f"{key.secret} ({key.name})" for key in keys)
    return named or f"none; the fixture {settings.fixture} has no keys"


def serve_app() -> RoomlineApp:
    """``create_app`` for ``roomline serve``, with start-up's objects moved out of the GC's way.

    Everything built by then (modules, the app, its routes and models) lives as long as
    the process. Left to the cyclic garbage collector, every full collection walks all
    of it again: pauses of 60-80 ms, which were the p99 latency of every write under
    load. ``gc.freeze()`` moves them to a generation the collector never scans; garbage
    made while serving is collected as before.
    """
    app = create_app()
    gc.freeze()
    return app
