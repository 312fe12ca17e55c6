"""``GET /metrics``: the Prometheus metrics of every worker of this server, summed.

Open to ``Authorization: Bearer`` with the metrics token (``ROOMLINE_METRICS_TOKEN``, for
a Prometheus server that should not hold the admin token) or the admin token. What is
counted is defined in ``roomline/metrics.py``.
"""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from roomline.api.admin import AdminAccess, bearer
from roomline.api.observability import request_info

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def require_metrics_reader(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
) -> None:
    """Let the metrics token through; otherwise ask for the admin token (the one admin
    check, with its throttle of wrong tokens)."""
    token = request.app.state.settings.metrics_token
    expected = "" if token is None else token.get_secret_value()
    given = "" if credentials is None else credentials.credentials
    # An empty token would match a request without one: it opens nothing.
    if expected.strip() and hmac.compare_digest(given.encode(), expected.encode()):
        return
    admin: AdminAccess = request.app.state.admin
    admin.verify(given or None, request_info(request.scope).client_address)


router = APIRouter(dependencies=[Depends(require_metrics_reader)])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The metrics in the text format the scraper asks for (Prometheus's or OpenMetrics)."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = await run_in_threadpool(encode, collected())
    return Response(body, headers={"Content-Type": content_type})


def collected() -> Collector:
    """Every worker's metrics summed (multiprocess mode), else this process's."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry
