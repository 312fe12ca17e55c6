"""Refuse requests whose headers are ambiguous or oversized, before any route sees them.

- A header that HTTP allows only once (``ApiKey``, ``ApplicationElementId``,
  ``Authorization``, ``Content-Type``, ``Host``) given several times is refused with 400
  ``DuplicateParameter``: Starlette would silently take the first, a proxy in front might
  take the last, and the two would then disagree about who is calling.
- Headers larger than ``MAX_HEADER_BYTES`` in total are refused with 431
  ``HeadersTooLarge``. uvicorn's httptools parser sets no limit of its own; this one
  matches what a default nginx lets through, so no request that passed a proxy is refused.
  (The bytes were already received: memory exhaustion by headers is a proxy's job.)

- A NUL character in the path or the query string is refused with 400
  ``InvalidParameter``: no id or value roomline stores can hold one, and PostgreSQL
  refuses NUL in text outright, so a lookup would fail with a 500 there and answer "not
  found" on SQLite.

- A body larger than its limit is refused with 413 ``PayloadTooLarge`` (``BodyLimit``):
  from ``Content-Length`` before anything is read, or as soon as a chunked body grows
  past it. Every path has the limit ``ROOMLINE_MAX_BODY_BYTES``; only the imports of the
  management API (admin token only) have a larger one.

All answer in the envelope of the path (Ultimo's under the workflow prefix).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomline.api.errors import error_response
from roomline.domain.errors import (
    DuplicateParameter,
    HeadersTooLarge,
    InvalidParameter,
    PayloadTooLarge,
    RoomlineError,
)

MAX_HEADER_BYTES = 32 * 1024
SINGLE_HEADERS = {
    b"apikey": "ApiKey",
    b"applicationelementid": "ApplicationElementId",
    b"authorization": "Authorization",
    b"content-type": "Content-Type",
    b"host": "Host",
}


class RequestHeaderGuard:
    """ASGI middleware: 400 for a duplicated single-valued header or a NUL in the path or
    query, 431 for huge headers."""

    def __init__(self, app: ASGIApp, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self.problem(scope["headers"]) or _nul_problem(scope)
            if problem is not None:
                await error_response(problem, scope["path"])(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def problem(self, headers: list[tuple[bytes, bytes]]) -> RoomlineError | None:
        """Return the refusal these headers deserve, or None."""
        size = 0
        seen: set[bytes] = set()
        for name, value in headers:
            size += len(name) + len(value) + 4  # ": " and CRLF, as on the wire
            if name in SINGLE_HEADERS:
                if name in seen:
                    return DuplicateParameter(
                        f"The {SINGLE_HEADERS[name]} header is given more than once; send it once."
                    )
                seen.add(name)
        if size > self.max_header_bytes:
            return HeadersTooLarge(
                f"The request headers are {size} bytes; at most {self.max_header_bytes} "
                "are allowed."
            )
        return None


def _nul_problem(scope: Scope) -> RoomlineError | None:
    # The query string is still percent-encoded; the path is decoded.
    if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
        return InvalidParameter(
            "The path or query string holds a NUL character (%00); no value can contain one."
        )
    return None


class BodyLimit:
    """ASGI middleware: answer 413 for a body past its limit, never holding more of it.

    A declared ``Content-Length`` over the limit is refused before the app runs; the
    server delivers no more than a declared length, so such a request passes untouched.
    A body without one (chunked) is counted as the app reads it: past the limit, this
    layer answers 413 itself and the app's ``receive`` raises ``PayloadTooLarge``, so
    the app stops reading whether or not it handles that error (FastAPI would turn it
    into a 400), and whatever the app then sends is dropped.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope["headers"])
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await error_response(_too_large(limit), scope["path"])(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await _CountedBody(self.app, scope, receive, send, limit).run()


class _CountedBody:
    """One request whose body is counted while the app reads it."""

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int):
        self.app, self.scope, self.outer_receive, self.outer_send = app, scope, receive, send
        self.limit = limit
        self.size = 0
        self.started = False  # the app began its answer
        self.refused = False  # this layer answered 413

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except PayloadTooLarge:
            if not self.refused:
                raise

    async def receive(self) -> Message:
        if self.refused:
            raise _too_large(self.limit)
        message = await self.outer_receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                self.refused = True
                if not self.started:
                    answer = error_response(_too_large(self.limit), self.scope["path"])
                    await answer(self.scope, self.outer_receive, self.outer_send)
                raise _too_large(self.limit)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        self.started = True
        await self.outer_send(message)


def _content_length(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"content-length":
            return value.decode("latin-1")
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {limit} bytes.")
