"""``/api/booking/changes``: the log of changes as a feed, a long poll and a stream.

All three read the same log (``services.changes``) with the same cursor, so a reader can
move between them: the ``next`` of a page, the ``cursor`` of an event and the SSE
``id:`` are one value. Grant ``changes``. Pages are read on the event loop
(``HotPaths.read``: asyncpg on PostgreSQL), as the Ultimo workflows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from roomline.api.booking.access import Caller, grant
from roomline.api.management.common import database_errors
from roomline.domain.errors import ServiceUnavailable
from roomline.services.changes import (
    DEFAULT_PAGE,
    MAX_PAGE,
    MAX_WAIT_SECONDS,
    ChangeLog,
    ChangePage,
    ChangeWatch,
    SharedPages,
    change_json,
    page_json,
    parse_cursor,
)
from roomline.storage.hotpath import HotPaths

router = APIRouter()
Changes = Annotated[Caller, Depends(grant("changes"))]
Space = Annotated[str | None, Query(description="Only changes of this space.", examples=["C-25"])]
# How often an idle stream sends a comment line, so proxies and clients see it is alive.
HEARTBEAT_SECONDS = 15


class ChangedReservation(BaseModel):
    ultimo_id: str = Field(..., examples=["00000006712"])
    space_id: str = Field(..., examples=["C-25"])
    applicant_id: str = Field(..., examples=["10023"])
    applicant_name: str = Field(..., examples=["Fasse, J."])
    description: str
    start: str = Field(..., examples=["2030-01-07T09:00:00+01:00"])
    end: str = Field(..., examples=["2030-01-07T10:00:00+01:00"])
    blocked_start: str = Field(..., examples=["2030-01-07T08:45:00+01:00"])
    blocked_end: str = Field(..., examples=["2030-01-07T10:10:00+01:00"])
    status: str = Field(..., examples=["Processed"])
    series_id: int | None = Field(..., description="The series it belongs to, if any.")


class ChangedBy(BaseModel):
    key_name: str | None = Field(..., description="The API key's name; null for the CLI.")
    via: str | None = Field(
        ..., description="The workflow or operation (REST_CreateReservation, series, web …)."
    )


class ChangeEvent(BaseModel):
    cursor: str = Field(..., examples=["1842"])
    type: str = Field(
        ...,
        examples=["reservation.created"],
        description="reservation.created, reservation.updated, reservation.cancelled …",
    )
    at: str = Field(..., examples=["2030-01-06T16:02:11+01:00"])
    reservation: ChangedReservation
    by: ChangedBy


class ChangeFeed(BaseModel):
    events: list[ChangeEvent]
    next: str = Field(..., description="The cursor to ask after next time.", examples=["1842"])


@router.get("/changes", response_model=ChangeFeed)
async def list_changes(
    request: Request,
    _caller: Changes,
    space: Space = None,
    after: Annotated[
        str | None,
        Query(
            description="The `next` of an earlier page; without it, from the oldest change "
            "the feed keeps (ROOMLINE_EVENT_RETENTION_DAYS)."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            allow_inf_nan=False,
            description="Seconds to hold the request while there is nothing new (long poll).",
        ),
    ] = 0,
) -> dict[str, Any]:
    """The changes after a cursor, oldest first (grant `changes`)."""
    reader = _Reader(request, space)
    watch: ChangeWatch = request.app.state.change_watch
    cursor = parse_cursor("after", after)
    page = await reader.page(cursor, limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    # Held until a change of its own (one of another space moves `next` but does not end
    # the wait). A change wakes every long poll of this process at once: they share the read.
    while not page.changes and (remaining := deadline - loop.time()) > 0:
        if not await watch.wait_past(page.next, remaining):
            break
        page = await reader.shared_page(page.next, limit)
    return page_json(page)


@router.get(
    "/changes/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_changes(
    request: Request,
    _caller: Changes,
    space: Space = None,
    last_event_id: Annotated[
        str | None,
        Header(description="Resume after this cursor (an event's `id:`), as browsers do."),
    ] = None,
) -> EventSourceResponse:
    """The changes as Server-Sent Events, live: `id:` is the cursor, `event:` the type,
    `data:` the event as JSON (grant `changes`). Without `Last-Event-ID` it starts with
    the next change."""
    reader = _Reader(request, space)
    watch: ChangeWatch = request.app.state.change_watch
    cursor = parse_cursor("Last-Event-ID", last_event_id)
    if cursor is None:
        cursor = await reader.latest()  # start with the next change
    # Refuse a bad space or an expired cursor with a normal error, before streaming.
    first = await reader.page(cursor, MAX_PAGE)
    return EventSourceResponse(
        _events(reader, watch, first), ping=HEARTBEAT_SECONDS, send_timeout=30
    )


async def _events(reader: _Reader, watch: ChangeWatch, page: ChangePage) -> AsyncIterator[bytes]:
    while True:
        if page.changes:
            # A page's events in one write: under a busy write load a page holds hundreds,
            # and each send passes every middleware and sse-starlette's send timeout.
            yield b"".join(
                ServerSentEvent(
                    data=orjson.dumps(change_json(change)).decode(),
                    event=change.type,
                    id=str(change.cursor),
                ).encode()
                for change in page.changes
            )
        else:
            await watch.wait_past(page.next, HEARTBEAT_SECONDS)
        page = await _next_page(reader, page.next)


async def _next_page(reader: _Reader, cursor: int) -> ChangePage:
    while True:
        try:
            return await reader.shared_page(cursor)
        except ServiceUnavailable:  # the stream stays open and tries again
            await asyncio.sleep(1)


class _Reader:
    """Reads one request's pages of the log (of one space, if given) on the hot paths."""

    def __init__(self, request: Request, space: str | None) -> None:
        self.log: ChangeLog = request.app.state.changes
        self.hot: HotPaths = request.app.state.ultimo.hot
        self.shared: SharedPages = request.app.state.stream_pages
        self.space = space

    async def page(self, after: int | None, limit: int) -> ChangePage:
        with database_errors():
            return await self.hot.read(
                lambda path: self.log.page_on(path, after, self.space, limit)
            )

    async def shared_page(self, after: int, limit: int = MAX_PAGE) -> ChangePage:
        """The page after a wake-up: read once for every stream and long poll of this
        process that asks at the same moment (``SharedPages``)."""
        with database_errors():
            return await self.shared.after(after, self.space, limit)

    async def latest(self) -> int:
        with database_errors():
            return await self.hot.read(self.log.latest_on)
