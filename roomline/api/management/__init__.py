"""The management API under ``/api/manage``: spaces, people, API keys, calendar feeds,
reservations, webhooks, reports.

It is opened only by the admin token (``Authorization: Bearer``, checked by
``api/admin.AdminGate`` before a body is read);
an Ultimo API key never opens it, and the admin token never opens the Ultimo workflows.
Its routes call the same services as the ``roomline`` CLI, so both apply the same rules.
Errors answer ``{"message", "code"}`` with the status from ``api/errors.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from roomline.api.admin import require_admin
from roomline.api.management import (
    feeds,
    keys,
    people,
    reports,
    reservations,
    spaces,
    webhooks,
)
from roomline.api.parameters import refuse_unknown_query_parameters

PREFIX = "/api/manage"
TAG = "Management"
# Where a body may be larger than ROOMLINE_MAX_BODY_BYTES (see common.MAX_IMPORT_BYTES).
IMPORT_PATHS = frozenset(f"{PREFIX}/{part}/import" for part in ("spaces", "people"))


def build_router() -> APIRouter:
    # The admin token first, then the query's parameter names (api/parameters.py).
    guards = [Depends(require_admin), Depends(refuse_unknown_query_parameters)]
    router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=guards)
    for part in (spaces, people, keys, feeds, reservations, webhooks, reports):
        router.include_router(part.router)
    return router
