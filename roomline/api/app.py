"""The app factory: one ``Settings`` in, one ASGI app out."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from roomline import __version__
from roomline.api import audit, demo, errors, health
from roomline.api.contract import complete_openapi
from roomline.api.docs_ui import install_docs
from roomline.api.guards import RequestHeaderGuard
from roomline.api.management import build_router as build_management_router
from roomline.api.observability import RequestObservability
from roomline.compat.ultimo.router import (
    CaseInsensitiveWorkflowPaths,
    UltimoFastPath,
    UltimoGateway,
    build_router,
)
from roomline.config import Settings
from roomline.domain.times import zone_named
from roomline.services.clock import clock_for
from roomline.services.limits import limiter_for, policy_from
from roomline.services.reservations import Policy, ReservationService
from roomline.storage.database import Database
from roomline.web import install_web

DESCRIPTION = """
roomline speaks the Ultimo REST connector **Reservations** exactly: create, update,
cancel and get reservations at `POST /api/V1/Action/{Workflow}` with an `ApiKey` header.

Errors answer `{"message", "type", "code"}`; the two documented business errors are
`1015` (space not available) and `1166` (reservation in the past). The full catalogue is
in `docs/errors.md`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the roomline ASGI app for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    zone_named(settings.default_time_zone)  # refuse an unknown default zone at start
    database = Database(settings.database_url, settings.database_pool_size)
    clock = clock_for(settings.demo)
    policy = Policy(
        start_grace=timedelta(minutes=settings.start_grace_minutes),
        max_window=timedelta(days=settings.max_window_days),
        default_zone=settings.default_time_zone,
    )
    service = ReservationService(database, clock, policy)

    app = FastAPI(
        title="roomline",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.reservations = service
    app.state.ultimo = UltimoGateway(
        database=database,
        service=service,
        application_element_ids=settings.application_element_ids,
        strict=settings.strict,
        max_body_bytes=settings.max_body_bytes,
        limiter=limiter_for(
            policy_from(
                settings.rate_limit,
                settings.daily_quota,
                settings.key_rate_limit,
                settings.key_daily_quota,
            ),
            database,
            settings.redis_url.get_secret_value() if settings.redis_url else None,
            settings.redis_prefix,
        ),
    )
    errors.install_handlers(app)
    app.include_router(build_router())
    app.include_router(health.router)
    app.include_router(build_management_router())
    app.include_router(audit.router)
    install_docs(app)
    install_web(app, settings)
    if settings.demo:
        app.include_router(demo.router)
    app.add_middleware(UltimoFastPath)  # inside: it sees canonical paths
    app.add_middleware(CaseInsensitiveWorkflowPaths)
    app.add_middleware(RequestHeaderGuard)
    complete_openapi(app, settings.application_element_ids)
    # Outermost, so every response (errors and 404s too) gets its request id and log line.
    app.add_middleware(RequestObservability, trusted_proxies=settings.trusted_proxies)
    return app
