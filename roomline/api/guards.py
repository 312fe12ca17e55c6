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

All answer in the envelope of the path (Ultimo's under the workflow prefix).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from roomline.api.errors import error_response
from roomline.domain.errors import (
    DuplicateParameter,
    HeadersTooLarge,
    InvalidParameter,
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
