"""A space's "Subscribe" page: make a calendar feed URL to paste into a calendar app.

The URL holds the feed's secret token, so it is shown once, on the page that answers the
create form (never cached, never stored); the page lists the space's feeds to revoke.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.errors import status_for
from roomline.api.management.feeds import public_base_url
from roomline.domain.errors import RoomlineError
from roomline.services import feeds as feed_service
from roomline.services import spaces as space_service
from roomline.web.blocking import run
from roomline.web.pages import database, form_text, problem, redirect, render
from roomline.web.session import flash, require_csrf, require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)], include_in_schema=False)


@router.get("/web/spaces/{space_id:path}/subscribe", response_class=HTMLResponse)
async def subscribe_page(request: Request, space_id: str) -> Response:
    """The space's feeds, and a form to make a new one."""
    return await _subscribe_page(request, space_id)


async def _subscribe_page(
    request: Request,
    space_id: str,
    created: dict[str, object] | None = None,
    error: RoomlineError | None = None,
) -> Response:
    try:
        space = await run(space_service.get_space, database(request), space_id)
    except RoomlineError as exc:
        return problem(request, exc)
    feeds = await run(feed_service.list_feeds, database(request), space_id)
    status = status_for(error) if error else 201 if created else 200
    return render(
        request,
        "subscribe.html",
        status=status,
        space=space,
        feeds=[feed_service.feed_values(feed) for feed in reversed(feeds)],
        created=created,
        error=error,
    )


@router.post("/web/spaces/{space_id:path}/subscribe", dependencies=[Depends(require_csrf)])
async def create_feed(request: Request, space_id: str) -> Response:
    """Make a feed of the space and show its URL, this once."""
    form = await request.form()
    try:
        made = await run(
            feed_service.create_feed,
            database(request),
            now=datetime.now(UTC),
            space_id=space_id,
            name=form_text(form, "name"),
        )
    except RoomlineError as exc:
        return await _subscribe_page(request, space_id, error=exc)
    created = feed_service.created_values(made, public_base_url(request))
    return await _subscribe_page(request, space_id, created=created)


@router.post("/web/feeds/{feed_id:int}/revoke", dependencies=[Depends(require_csrf)])
async def revoke_feed(request: Request, feed_id: int) -> Response:
    try:
        feed = await run(feed_service.revoke_feed, database(request), feed_id, datetime.now(UTC))
    except RoomlineError as exc:
        return problem(request, exc)
    flash(request, f"Calendar feed {feed.id} revoked: its URL stopped working at once.")
    # The page lists only space feeds; an applicant's is revoked with the CLI or the API.
    if feed.space_id is None:
        return redirect("/web/spaces")
    return redirect(f"/web/spaces/{quote(feed.space_id, safe='')}/subscribe")
