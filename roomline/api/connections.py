"""HTTP connections: close those whose request headers do not arrive in time.

uvicorn times out only an idle keep-alive connection between two requests. A client that
connects and sends nothing, or sends its headers a byte at a time, holds its connection
(and a file descriptor, and a slot of a proxy's pool) for as long as it likes: 200 of
them were still open after 55 s. This protocol gives every request's headers
``header_timeout`` seconds, counted from the connection's start or from the first byte
of a later request on the same connection, and then closes the connection without an
answer, as nginx's ``client_header_timeout`` does. Bodies are not timed: a slow upload
is bounded by the body size limit instead.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        super().on_headers_complete()

    def _start_header_clock(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_header_clock(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_late(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(header_timeout: float) -> Any:
    """Return the protocol factory to pass to ``uvicorn.run(http=...)``.

    A ``functools.partial`` of a module-level class: uvicorn hands its config to worker
    processes by pickling, which keeps the partial intact.
    """
    return functools.partial(HeaderTimeoutProtocol, header_timeout=header_timeout)
