"""Signing in to the web view with the admin token, and signing out."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.web.pages import redirect, render
from roomline.web.session import require_csrf, safe_next, sign_in, sign_out, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/web/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (straight on to the page asked for when already signed in)."""
    if signed_in(request):
        return redirect(safe_next(next))
    return render(request, "login.html", next=safe_next(next), enabled=_enabled(request))


@router.post("/web/login", dependencies=[Depends(require_csrf)])
async def login(request: Request) -> Response:
    """Sign in with the admin token; a wrong token shows the form again (401)."""
    form = await request.form()
    given = form.get("token")
    target = safe_next(str(form.get("next") or ""))
    expected = request.app.state.settings.admin_token
    if (
        expected is not None
        and isinstance(given, str)
        and hmac.compare_digest(given.strip().encode(), expected.get_secret_value().encode())
    ):
        sign_in(request)
        return redirect(target)
    return render(
        request,
        "login.html",
        status=401,
        next=target,
        enabled=_enabled(request),
        error="That is not the admin token.",
    )


@router.post("/web/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> Response:
    sign_out(request)
    return redirect("/web/login")


def _enabled(request: Request) -> bool:
    return request.app.state.settings.admin_token is not None
