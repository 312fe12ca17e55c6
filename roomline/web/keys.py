"""Pages to create, list and revoke API keys.

A new key's secret is shown once, on the page that answers the create form (never
cached, never stored); revoking asks for confirmation on a page of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.errors import status_for
from roomline.domain.errors import InvalidParameter, RecordNotFound, RoomlineError
from roomline.services import api_keys as key_service
from roomline.services import spaces as space_service
from roomline.services.api_keys import MAX_DAILY_QUOTA
from roomline.services.keys import GRANTS
from roomline.web.blocking import run
from roomline.web.pages import database, problem, redirect, render
from roomline.web.params import whole_number
from roomline.web.session import flash, require_csrf, require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)], include_in_schema=False)
# What a door panel needs: read its space's reservations and book now, nothing else.
PANEL_WORKFLOWS = ("REST_GetReservationsForSpace", "REST_CreateReservation")


@router.get("/web/keys", response_class=HTMLResponse)
async def keys_page(request: Request) -> Response:
    return await _keys_page(request)


async def _keys_page(
    request: Request, form: dict[str, Any] | None = None, error: RoomlineError | None = None
) -> Response:
    keys = await run(key_service.list_keys, database(request))
    return render(
        request,
        "keys.html",
        status=status_for(error) if error else 200,
        keys=[key_service.key_values(key) for key in keys],
        workflows=GRANTS,
        panel_workflows=PANEL_WORKFLOWS,
        form=form or {"workflows": list(GRANTS)},
        error=error,
    )


@router.post("/web/keys", dependencies=[Depends(require_csrf)])
async def create_key(request: Request) -> Response:
    """Create a key and show its secret, this once."""
    form = await request.form()
    chosen = [name for name in form.getlist("workflows") if isinstance(name, str)]
    name, ip_allow, quota = (
        str(form.get(field) or "").strip() for field in ("name", "ip_allow", "daily_quota")
    )
    values = {"name": name, "workflows": chosen, "ip_allow": ip_allow, "daily_quota": quota}
    try:
        if not chosen:
            raise InvalidParameter("Choose at least one workflow the key may call.")
        created = await run(
            key_service.create_key,
            database(request),
            name=name,
            now=datetime.now(UTC),
            workflows=None if set(chosen) == set(GRANTS) else chosen,
            ip_allow=ip_allow or None,
            daily_quota=_quota(quota),
        )
    except RoomlineError as exc:
        return await _keys_page(request, values, exc)
    spaces = await run(space_service.list_spaces, database(request))
    return render(
        request,
        "key_created.html",
        status=201,
        key=key_service.key_values(created.key),
        secret=created.secret,
        panel_ready=created.key.workflows is None
        or set(PANEL_WORKFLOWS) <= set(created.key.workflows),
        spaces=spaces,
    )


@router.get("/web/keys/{name:path}/revoke", response_class=HTMLResponse)
async def revoke_page(request: Request, name: str) -> Response:
    """Ask whether to really revoke the key."""
    keys = {key.name: key for key in await run(key_service.list_keys, database(request))}
    if name not in keys:
        return problem(request, _unknown(name))
    return render(request, "key_revoke.html", key=key_service.key_values(keys[name]))


@router.post("/web/keys/{name:path}/revoke", dependencies=[Depends(require_csrf)])
async def revoke_key(request: Request, name: str) -> Response:
    try:
        await run(key_service.revoke_key, database(request), name, datetime.now(UTC))
    except RoomlineError as exc:
        return problem(request, exc)
    flash(request, f"API key {name} revoked: it stopped working at once.")
    return redirect("/web/keys")


def _quota(text: str) -> int | None:
    if not text:
        return None
    return whole_number("daily_quota", text, 0, MAX_DAILY_QUOTA)


def _unknown(name: str) -> RoomlineError:
    return RecordNotFound(f"There is no API key named {name!r}.")
