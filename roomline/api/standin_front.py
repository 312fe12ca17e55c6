"""The stand-in's hooks on the Ultimo namespace: faults and the request journal.

Installed only by ``roomline demo``, outermost, around everything else, so a normal
server pays nothing for them and the journal sees every request under ``/api/V1/`` as it
arrived. For each such request it reads the body (up to the body limit), fires the
oldest matching fault (``services/standin.py``), then either

- waits ``delay_ms`` and answers normally (a delay alone; if the demo was reset
  meanwhile, the request goes unanswered and unjournaled instead),
- answers the fault's status and body without running the workflow (changes nothing),
- or closes the connection without an answer (``drop``),

and writes the journal entry before the answer leaves, so a test that got its answer
finds the request in the journal.

The stand-in's own bookkeeping never turns an answer into a 500: while the database
does not answer (another program holding SQLite's write lock, say), a request meets no
fault and goes unjournaled, with a warning in the log, and gets the answer it would get
without the stand-in (typically the workflow's own 503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomline.compat.ultimo import bodies
from roomline.domain.errors import InvalidParameter, RoomlineError
from roomline.services import standin
from roomline.services.standin import Fault
from roomline.storage.database import Database, DatabaseUnavailable

log = logging.getLogger("roomline.standin")

NAMESPACE = "/api/v1/"
SHORTENED_HEADERS = (b"apikey", b"authorization", b"cookie")


class StandInFront:
    """ASGI middleware: faults and journal for the Ultimo namespace (demo only)."""

    def __init__(self, app: ASGIApp, database: Database, max_body_bytes: int) -> None:
        self.app = app
        self.database = database
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].lower().startswith(NAMESPACE):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = datetime.now(UTC)
        raw, complete, disconnected = await _read_body(scope, receive, self.max_body_bytes)
        if disconnected:
            # Not journaled (nothing was asked); the app logs the hang-up as on any path.
            await self.app(scope, _hung_up, send)
            return
        workflow = _workflow(scope["path"])
        fault = await _bookkeeping(
            "faults", standin.fire_fault, self.database, workflow, raw if complete else None
        )
        if fault is not None and fault.delay_ms:
            resets = await run_in_threadpool(standin.reset_count, self.database)
            await asyncio.sleep(fault.delay_ms / 1000)
            if await run_in_threadpool(standin.reset_count, self.database) != resets:
                # The test that sent it is over: acting now would change (and journal
                # into) the next test's fresh start.
                await _drop_connection(send)
                return
        answer = _Answer()
        if fault is not None and fault.drop:
            pass
        elif fault is not None and fault.status is not None:
            answer.forced(fault)
        else:
            await self.app(scope, _replaying(raw, complete, receive), answer.capture)
        entry = _entry(scope, at, workflow, raw, complete, answer, fault, started)
        await _bookkeeping("journal", standin.record, self.database, workflow, entry)
        if fault is not None and fault.drop:
            await _drop_connection(send)
        else:
            await answer.send_to(send)


async def _bookkeeping(what: str, function: Callable[..., Any], *args: Any) -> Any:
    """Run one of the stand-in's own reads or writes; None while the database does not
    answer (the request goes on as if the stand-in were not there)."""
    try:
        return await run_in_threadpool(function, *args)
    except (RoomlineError, *DatabaseUnavailable) as exc:
        log.warning("stand-in %s skipped: the database did not answer (%s)", what, exc)
        return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, bool, bool]:
    """Return (body read, whether it is all of it, whether the client went away).

    Stops past ``limit`` (or at once when Content-Length says so), leaving the refusal to
    the workflow's own limit, which reads on from where this stopped.
    """
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            return b"", False, False
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", False, True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True, False
        if size > limit:
            return b"".join(chunks), False, False


async def _hung_up() -> Message:
    return {"type": "http.disconnect"}


def _replaying(raw: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the body read so far over again, then reads on."""
    pending = [{"type": "http.request", "body": raw, "more_body": not complete}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


def _workflow(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    try:
        return standin.workflow_named(name)
    except InvalidParameter:  # not a workflow: journaled under the name it was sent with,
        # less any NUL (PostgreSQL stores no NUL in text; the guard refuses the request)
        return name.replace("\x00", "")[:255]


class _Answer:
    """The response, held back until the journal has it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def capture(self, message: Message) -> None:
        self.messages.append(message)

    def forced(self, fault: Fault) -> None:
        assert fault.status is not None
        if fault.body is not None:
            body, headers = fault.body, {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
        else:
            body, headers = bodies.forced(fault.status, fault.retry_after)
        raw = orjson.dumps(body)
        encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        encoded += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ]
        self.messages = [
            {"type": "http.response.start", "status": fault.status, "headers": encoded},
            {"type": "http.response.body", "body": raw},
        ]

    @property
    def status(self) -> int | None:
        for message in self.messages:
            if message["type"] == "http.response.start":
                return int(message["status"])
        return None

    @property
    def headers(self) -> dict[str, str]:
        for message in self.messages:
            if message["type"] == "http.response.start":
                return _header_dict(message.get("headers", []))
        return {}

    @property
    def body(self) -> bytes:
        return b"".join(
            message.get("body", b"")
            for message in self.messages
            if message["type"] == "http.response.body"
        )

    async def send_to(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def _drop_connection(send: Send) -> None:
    """Close the connection without an answer.

    ASGI has no message for this; uvicorn's ``send`` is a method of the request's cycle,
    which holds the transport. Once the transport is closed uvicorn marks the cycle
    disconnected and sends nothing more (no 500 for a missing answer).
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("Dropping a connection needs uvicorn's transport.")
    transport.close()
    for _ in range(200):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.005)


def _header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in raw:
        text = value.decode("latin-1")
        if name.lower() in SHORTENED_HEADERS:
            text = shortened(text)
        key = name.decode("latin-1").lower()
        found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def shortened(secret: str) -> str:
    """Keep a secret's last four characters, enough to tell keys apart in a journal."""
    return "****" + secret[-4:] if len(secret) > 4 else "****"


def _readable(raw: bytes) -> Any:
    """The body as JSON where it parses, else as text (None when empty)."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def _entry(
    scope: Scope,
    at: datetime,
    workflow: str,
    raw: bytes,
    complete: bool,
    answer: _Answer,
    fault: Fault | None,
    started: float,
) -> dict[str, Any]:
    return {
        "time": at.isoformat().replace("+00:00", "Z"),
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode("latin-1"),
        "workflow": workflow,
        "headers": _header_dict(scope["headers"]),
        "body": _readable(raw) if complete else f"(over the limit: {len(raw)}+ bytes)",
        "status": answer.status,
        "response_headers": answer.headers,
        "response_body": _readable(answer.body),
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "fault": None if fault is None else fault.as_json(),
    }
