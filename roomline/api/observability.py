"""Request ids, the client's address, and one structured log line per request.

Every response carries ``X-Request-Id``: the caller's own when it sent a sane one (so ids
can follow a request through a proxy), else a new one: a random prefix drawn once per
process and a counter, unique without a system call per request (a UUID costs more
than the rest of this middleware). The log line of each request
names the id, method, path, status, duration, client address, the API key's *name* (the
Ultimo router fills it in; the secret is never logged) and the workflow. A client that
hangs up before its body has arrived is logged with status 499, without a traceback.

The client address is the socket's peer, or, when that peer is one of the configured
trusted proxies, the nearest address in ``X-Forwarded-For`` that is not a trusted proxy.
Uvicorn's own proxy-header handling is switched off (see ``cli/server.py``) so this is
the only place that believes the header.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import itertools
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomline import metrics
from roomline.domain.addresses import AddressRange, allows, parse_ip_allow

access_log = logging.getLogger("roomline.access")

SCOPE_KEY = "roomline.request"
REQUEST_ID_HEADER = b"x-request-id"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before the answer
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:+/=-]{1,128}")
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


def new_request_id() -> str:
    """Return an id unique across processes and hosts: ``<16 random hex>-<counter hex>``."""
    return f"{_ID_PREFIX}-{next(_id_counter):08x}"


@dataclass(slots=True)
class RequestInfo:
    """What the log line says about one request; handlers fill in key and workflow."""

    request_id: str
    client_address: str | None
    key_name: str | None = None
    workflow: str | None = None


def request_info(scope: Scope) -> RequestInfo:
    """Return the request's info (made up on the spot if the middleware did not run)."""
    info = scope.get(SCOPE_KEY)
    if info is None:
        client = scope.get("client")
        info = RequestInfo(new_request_id(), client[0] if client else None)
    return info  # type: ignore[no-any-return]


class RequestObservability:
    """Pure ASGI middleware: request id, client address, and the per-request log line."""

    def __init__(self, app: ASGIApp, trusted_proxies: str | None = None) -> None:
        self.app = app
        self.trusted = parse_ip_allow(trusted_proxies) if trusted_proxies else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, REQUEST_ID_HEADER)
        if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
            request_id = incoming.decode()
        else:
            request_id = new_request_id()
        info = RequestInfo(request_id, client_address(scope, self.trusted))
        scope[SCOPE_KEY] = info
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away before its body arrived: nobody is left to answer, and
            # it is no fault of the server's (no traceback, no 500 in the log).
            status = CLIENT_CLOSED_REQUEST
        finally:
            seconds = time.perf_counter() - started
            metrics.observe_request(info.workflow, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                _log_request(scope, info, status, seconds)


def _log_request(scope: Scope, info: RequestInfo, status: int, seconds: float) -> None:
    duration_ms = round(seconds * 1000, 2)
    method = scope["method"]
    path = logged_path(scope["path"])
    message_args = (method, path, status, duration_ms)
    fields = {
        "request_id": info.request_id,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "client": info.client_address,
        "key": info.key_name,
        "workflow": info.workflow,
    }
    lines = _plain_json_lines()
    if lines is not None:
        # The line a LogRecord would become, without making one and passing it through
        # logging's filters and locks: most of what the line cost a Get.
        try:
            line = lines.formatter.line(  # type: ignore[union-attr]
                time.time(), "info", access_log.name, _REQUEST_LINE % message_args, fields
            )
        except Exception:  # logging's own path below reports what cannot be written
            pass
        else:
            lines.add_line(line)
            return
    # makeRecord + handle is logger.info without the caller lookup, which a line whose
    # origin is always this function does not need (it is a third of the cost).
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        _REQUEST_LINE,
        message_args,
        None,
        extra={"fields": fields},
    )
    access_log.handle(record)


_REQUEST_LINE = "%s %s %s %.2fms"


def _plain_json_lines() -> LoopBatchedStreamHandler | None:
    """The access log's handler when it is ``roomline serve``'s own (JSON lines, batched,
    nothing filtering), so a request line can go to it directly; else None."""
    handlers = access_log.handlers
    if len(handlers) != 1 or access_log.filters or access_log.disabled:
        return None
    handler = handlers[0]
    if (
        type(handler) is LoopBatchedStreamHandler
        and type(handler.formatter) is JsonFormatter
        and not handler.filters
        and handler.level <= logging.INFO
    ):
        return handler
    return None


def logged_path(path: str) -> str:
    """``path`` as the log shows it: a calendar feed's token is its secret, so it is left
    out (``/feeds/***.ics``), as API keys, sent in a header, never appear."""
    return "/feeds/***.ics" if path.startswith("/feeds/") else path


def client_address(scope: Scope, trusted: tuple[AddressRange, ...] | None) -> str | None:
    """Return the client's address: the peer's, or the one a trusted proxy forwarded."""
    client = scope.get("client")
    peer: str | None = client[0] if client else None
    if peer is not None and peer.startswith("::ffff:") and "." in peer:
        peer = peer[7:]  # a dual-stack socket shows an IPv4 client as ::ffff:a.b.c.d
    if not trusted or peer is None or not allows(trusted, peer):
        return peer
    forwarded = _header(scope, b"x-forwarded-for", every=True)
    if not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",")]
    # Walk from the nearest hop: each trusted proxy vouches for the hop before it.
    for hop in reversed(hops):
        address = _hop_address(hop)
        if address is None:
            return None  # a forged or garbled entry: the client cannot be known
        if not allows(trusted, address):
            return address
    return _hop_address(hops[0])


def _hop_address(hop: str) -> str | None:
    """Read one X-Forwarded-For entry: an address, ``a.b.c.d:port`` or ``[v6]:port``."""
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None


def _header(scope: Scope, name: bytes, every: bool = False) -> bytes | None:
    values = [value for key, value in scope["headers"] if key == name]
    if not values:
        return None
    return b",".join(values) if every else values[0]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's fields."""

    def __init__(self) -> None:
        super().__init__()
        self.pid = os.getpid()  # made in each worker process by its logging set-up

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            getattr(record, "fields", None),
            exception,
        )

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: dict[str, Any] | None,
        exception: str | None = None,
    ) -> str:
        second = int(created)
        entry: dict[str, Any] = {
            "time": f"{_utc_second(second)}.{int((created - second) * 1000):03d}+00:00",
            "level": level,
            "logger": logger,
            "pid": self.pid,
            "message": message,
        }
        if fields:
            entry.update(fields)
        if exception is not None:
            entry["exception"] = exception
        return orjson.dumps(entry).decode()


@functools.lru_cache(maxsize=4)
def _utc_second(epoch_second: int) -> str:
    # Every line of a busy second shares this text; formatting it anew took longer than
    # the rest of the line.
    return datetime.fromtimestamp(epoch_second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class LoopBatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes the lines of one event-loop turn together.

    Under load a worker answers many requests per turn of its event loop; one write per
    turn instead of one per line saves a system call for each request. A line waits at
    most until the loop's next turn (microseconds), and ``flush`` (called at shutdown)
    writes whatever is pending. Outside an event loop a line is written at once.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # logging must never break the request
            self.handleError(record)
            return
        self.add_line(line)

    def add_line(self, line: str) -> None:
        """Write a formatted line with this loop turn's others."""
        line += self.terminator
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._pending.append(line)
            self.flush()
            return
        if not self._pending:
            loop.call_soon(self.flush)
        self._pending.append(line)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._pending:
                lines, self._pending = self._pending, []
                # A closed stream (at shutdown) drops the lines, as StreamHandler would.
                with contextlib.suppress(OSError, ValueError):
                    self.stream.write("".join(lines))
            super().flush()


class TextFormatter(logging.Formatter):
    """``time level logger message key=value ...`` for people reading a terminal."""

    # What a request line's message says already ("GET /path 200 1.23ms").
    SAID_IN_MESSAGE = frozenset({"method", "path", "status", "duration_ms"})

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            text += " " + " ".join(
                f"{name}={value}"
                for name, value in fields.items()
                if value is not None and name not in self.SAID_IN_MESSAGE
            )
        return text


def logging_config(log_format: str | None, level: str, access_log: bool = True) -> dict[str, Any]:
    """Return the ``logging.config`` dict uvicorn applies in every worker process.

    ``log_format`` None chooses by where the lines go (standard error, which the workers
    share): text for a person at a terminal, JSON for a service manager or a file.
    """
    if log_format is None:
        log_format = "text" if sys.stderr.isatty() else "json"
    formatter = "roomline.api.observability.JsonFormatter"
    if log_format == "text":
        formatter = "roomline.api.observability.TextFormatter"
    level = level.upper()
    # Request lines go through their own handler, which batches them per loop turn.
    # Without the access log, roomline.access still passes on warnings and errors.
    access: dict[str, Any] = {
        "roomline.access": {
            "handlers": ["access"],
            "level": level if access_log else "WARNING",
            "propagate": False,
        }
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"roomline": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "roomline",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "roomline.api.observability.LoopBatchedStreamHandler",
                "formatter": "roomline",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            # roomline.access writes the request lines; uvicorn's would repeat them.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "roomline": {"handlers": ["stderr"], "level": level, "propagate": False},
            **access,
        },
    }
