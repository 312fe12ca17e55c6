"""``GET /feeds/{token}.ics``: a calendar feed, opened by its secret token alone.

Outside the admin token and the API keys on purpose: calendar apps subscribe to a plain
URL and cannot send headers. The token is the secret; an unknown and a revoked one
answer the same 404. The answer carries an ETag of its body, and ``If-None-Match``
with it answers 304, so a client polling an unchanged calendar gets no body.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from roomline.api.management.common import database_errors
from roomline.services.feeds import FeedReader

router = APIRouter(tags=["Calendar feeds"])
MEDIA_TYPE = "text/calendar; charset=utf-8"
# Clients must ask again each time (with If-None-Match); shared caches must not keep it.
CACHE_CONTROL = "private, no-cache"

EXAMPLE = (
    "BEGIN:VCALENDAR\r\nPRODID:-//roomline//roomline 0.1.0//EN\r\nVERSION:2.0\r\n"
    "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nNAME:C-25 Meeting room 2 (roomline)\r\n…\r\n"
    "BEGIN:VEVENT\r\nUID:00000006712@roomline\r\nDTSTAMP:20210613T220000Z\r\n"
    "SEQUENCE:1\r\nDTSTART;TZID=Pacific/Auckland:20210614T120000\r\n"
    "DTEND;TZID=Pacific/Auckland:20210614T130000\r\nSUMMARY:Team meeting Front office\r\n"
    "STATUS:CONFIRMED\r\n…\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@router.get(
    "/feeds/{token}.ics",
    response_class=Response,
    summary="A calendar feed (iCalendar).",
    responses={
        200: {
            "content": {"text/calendar": {"schema": {"type": "string"}, "example": EXAMPLE}},
            "description": "The calendar, RFC 5545; `ETag` header.",
        },
        304: {"description": "Unchanged since the ETag sent in `If-None-Match`."},
    },
)
@router.head("/feeds/{token}.ics", response_class=Response, include_in_schema=False)
async def calendar_feed(
    request: Request,
    token: str,
    if_none_match: str | None = Header(None, description="An ETag of an earlier answer."),
) -> Response:
    """The reservations of one space or applicant from 30 days ago to a year ahead, as
    iCalendar for Outlook, Google and Apple Calendar to subscribe to. An unknown and a
    revoked token answer the same 404 `RecordNotFound`. `HEAD` answers the same headers
    without the body (calendar clients and link checkers ask it first)."""
    reader: FeedReader = request.app.state.feeds
    with database_errors():
        document = await run_in_threadpool(reader.read, token)
    headers = {"ETag": document.etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and _matches(if_none_match, document.etag):
        return Response(status_code=304, headers=headers)
    return Response(document.body, media_type=MEDIA_TYPE, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison: any listed tag (W/ or not) equal to ``etag``, or *."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False
