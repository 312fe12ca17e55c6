"""Signing in to the web view with the admin token, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.admin import AdminAccess
from roomline.api.errors import headers_for, status_for
from roomline.api.observability import request_info
from roomline.domain.errors import AdminTokenRequired, TooManyRequests
from roomline.web.blocking import run
from roomline.web.pages import redirect, render
from roomline.web.session import (
    check_signed_in,
    require_csrf,
    safe_next,
    sign_in,
    sign_out,
)

router = APIRouter(include_in_schema=False)


def _admin(request: Request) -> AdminAccess:
    admin: AdminAccess = request.app.state.admin
    return admin


@router.get("/web/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (straight on to the page asked for when already signed in)."""
    if await check_signed_in(request):
        return redirect(safe_next(next))
    return render(request, "login.html", next=safe_next(next), enabled=_admin(request).enabled)


@router.post("/web/login", dependencies=[Depends(require_csrf)])
async def login(request: Request) -> Response:
    """Sign in with the admin token; a wrong token shows the form again (401), too many
    wrong ones from one address 429."""
    form = await request.form()
    given = form.get("token")
    target = safe_next(str(form.get("next") or ""))
    admin = _admin(request)
    try:
        await run(
            admin.verify,
            given.strip() if isinstance(given, str) else None,
            request_info(request.scope).client_address,
        )
    except (AdminTokenRequired, TooManyRequests) as exc:
        wrong = isinstance(exc, AdminTokenRequired)
        response = render(
            request,
            "login.html",
            status=status_for(exc),
            next=target,
            enabled=admin.enabled,
            error="That is not the admin token." if wrong else exc.message,
        )
        response.headers.update(headers_for(exc))
        return response
    await sign_in(request)
    return redirect(target)


@router.post("/web/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> Response:
    await sign_out(request)
    return redirect("/web/login")
