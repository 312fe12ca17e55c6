"""Delivering webhooks from the log of changes: at least once, never lost (SPEC §8–§9).

Two background jobs run in every server process:

- **fan-out** claims its ``job_state`` row (one worker at a time), reads the log after
  its cursor and, in the same transaction that moves the cursor, adds a delivery for
  every active subscription the change matches. A change is either fanned out and the
  cursor moved, or neither: a crash in between loses nothing and repeats nothing. It
  wakes when the log grows (``ChangeWatch``, which sees changes of every worker and host).
- **deliver** leases due deliveries in a committed transaction (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL; SQLite's one writer), sends each, records the attempt and
  schedules the next (``domain.webhooks.RETRY_DELAYS``). A worker killed while sending
  leaves its lease behind; once it expires (``LEASE``), another worker sends again, with
  the same ``webhook-id``.

Scheduling (next attempt, leases) follows the server's clock, so a demo's clock moves
retries; the HTTP timeout and the signature's ``webhook-timestamp`` are real time, since
receivers compare that with their own clocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from standardwebhooks.webhooks import Webhook

from roomline import __version__
from roomline.domain.errors import InvalidWebhookUrl, RecordNotFound, WebhookTargetNotAllowed
from roomline.domain.times import format_iso
from roomline.domain.webhooks import Targets, check_url, next_attempt_delay, parse_retry_after
from roomline.services.background import Job
from roomline.services.changes import Change, ChangeLog, ChangeWatch, change_json
from roomline.services.clock import Clock
from roomline.storage import audit as log_store
from roomline.storage import jobs as job_store
from roomline.storage import webhooks as store
from roomline.storage.database import Database

log = logging.getLogger("roomline.webhooks")

FAN_OUT_JOB = "webhooks.fan_out"
PING = "webhook.ping"
# Longer than a send can take (SEND_TIMEOUT for the answer, plus resolving and recording).
LEASE = timedelta(seconds=60)
SEND_TIMEOUT = 15.0
EXCERPT_BYTES = 1024
FAN_OUT_PAGE = 500
DELIVERY_BATCH = 100
CONNECTIONS = 8
# Fallback polling, for what no wake-up announces: retries coming due, other hosts' work.
DELIVER_EVERY = 1.0
FAN_OUT_EVERY = 1.0
WATCH_SECONDS = 60.0
UTC_ZONE = ZoneInfo("UTC")


def new_message_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def event_body(event_type: str, timestamp: str, data: dict[str, Any]) -> str:
    """The Standard Webhooks payload ``{"type", "timestamp", "data"}``, as sent and signed."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: an HTTP status, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str
    retry_after: timedelta | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """Signs and POSTs one delivery, to an address the target rule allows."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets

    @staticmethod
    def client() -> httpx.AsyncClient:
        # No redirects (a 3xx could point anywhere, past the target check) and no proxy
        # from the environment (the check must see where the request really goes).
        # A few connections: httpcore's pool does work for every connection it holds on
        # every request, and a hundred connections to one receiver cost more than they
        # bring (bench/changes.py).
        return httpx.AsyncClient(
            timeout=SEND_TIMEOUT,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        )

    async def send(
        self, client: httpx.AsyncClient, url: str, secret: str, message_id: str, body: str
    ) -> Outcome:
        """Resolve, check, sign and POST; the whole attempt ends after SEND_TIMEOUT (a
        receiver trickling its answer cannot hold it past the lease)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                return await self._send(client, url, secret, message_id, body, started)
        except TimeoutError:
            return _failed(started, f"no answer within {SEND_TIMEOUT:g} s")

    async def _send(
        self,
        client: httpx.AsyncClient,
        url: str,
        secret: str,
        message_id: str,
        body: str,
        started: float,
    ) -> Outcome:
        try:
            host, port = check_url(url)
            # Again at every attempt: what a name resolves to can change after ``add``.
            self.targets.check(url, await resolve(host, port))
        except (InvalidWebhookUrl, WebhookTargetNotAllowed) as exc:
            return _failed(started, f"refused, not sent: {exc.message}")
        except OSError as exc:
            return _failed(started, f"cannot resolve the host: {exc}")
        timestamp = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": f"roomline/{__version__}",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
        }
        try:
            async with client.stream("POST", url, content=body.encode(), headers=headers) as answer:
                excerpt = await _excerpt(answer)
                retry_after = parse_retry_after(
                    answer.headers.get("retry-after"), datetime.now(UTC)
                )
                return Outcome(answer.status_code, None, _ms_since(started), excerpt, retry_after)
        except httpx.TimeoutException:
            return _failed(started, f"no answer within {SEND_TIMEOUT:g} s")
        except httpx.HTTPError as exc:
            return _failed(
                started, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            )


def _failed(started: float, error: str) -> Outcome:
    return Outcome(None, error, _ms_since(started), "", None)


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_now(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


async def _excerpt(answer: httpx.Response) -> str:
    taken = b""
    async for chunk in answer.aiter_raw():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode("utf-8", "replace")


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def matches(subscription: Any, change: Change) -> bool:
    spaces = json.loads(subscription.space_ids)
    return (
        change.cursor > subscription.start_cursor
        and change.type in json.loads(subscription.event_types)
        and (not spaces or change.reservation.space_id in spaces)
    )


class WebhookDelivery:
    """The fan-out and delivery jobs of one server process, and ``ping``."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        changes: ChangeLog,
        watch: ChangeWatch,
        targets: Targets,
    ) -> None:
        self.database = database
        self.clock = clock
        self.changes = changes
        self.watch = watch
        self.sender = Sender(targets)
        self.fan_out_job = Job("webhooks_fan_out", FAN_OUT_EVERY, self._fan_out_run)
        self.deliver_job = Job("webhooks_deliver", DELIVER_EVERY, self.deliver)

    def jobs(self) -> list[Job]:
        return [self.fan_out_job, self.deliver_job]

    # -- fan-out --------------------------------------------------------------------

    def fan_out(self) -> tuple[int, int | None, bool]:
        """Turn the next page of the log into deliveries; return how many were added, the
        cursor reached (None while nobody subscribes), and whether it moved.

        The page is read and shaped in a read transaction; the write transaction only
        checks that the cursor is still where it was and inserts the rows, so SQLite's one
        write lock is held for milliseconds, not for the shaping of hundreds of events."""
        with self.database.read() as conn:
            now = self.clock.now(conn)
            cursor = job_store.cursor(conn, FAN_OUT_JOB)
            subscriptions = store.subscriptions(conn, active_only=True)
            changes = (
                self.changes.read_after(conn, cursor, FAN_OUT_PAGE)
                if cursor is not None and subscriptions
                else []
            )
        if not subscriptions:
            return 0, None, False  # nobody to tell: no reads of the log, no writes
        if cursor is None:
            return self._start_at_latest()
        if not changes:
            return 0, cursor, False
        rows = [
            self._delivery_row(subscription.id, change, now)
            for change in changes
            for subscription in subscriptions
            if matches(subscription, change)
        ]
        with self.database.write() as conn:
            if job_store.claim(conn, FAN_OUT_JOB, now) != cursor:
                return 0, cursor, True  # another worker fanned this page out: read again
            # A subscription removed or disabled meanwhile gets nothing; one added meanwhile
            # starts after the log's end at that moment, so after this page.
            active = {s.id for s in store.subscriptions(conn, active_only=True)}
            rows = [row for row in rows if row["subscription_id"] in active]
            store.add_deliveries(conn, rows)
            job_store.set_cursor(conn, FAN_OUT_JOB, changes[-1].cursor, now)
        return len(rows), changes[-1].cursor, True

    def _start_at_latest(self) -> tuple[int, int | None, bool]:
        """Subscriptions but no cursor (``add`` sets one; a database from before it did
        not): start at the log's end, as a new subscription does."""
        with self.database.write() as conn:
            now = self.clock.now(conn)
            cursor = job_store.claim(conn, FAN_OUT_JOB, now)
            if cursor is None:
                cursor = log_store.latest_cursor(conn)
                job_store.set_cursor(conn, FAN_OUT_JOB, cursor, now)
        return 0, cursor, True

    @staticmethod
    def _delivery_row(subscription_id: int, change: Change, now: datetime) -> dict[str, Any]:
        event = change_json(change)
        return {
            "message_id": new_message_id(),
            "subscription_id": subscription_id,
            "event_type": change.type,
            "cursor": change.cursor,
            "payload": event_body(change.type, event["at"], event),
            "status": store.PENDING,
            "attempt_count": 0,
            "next_attempt_at": now,
            "lease_until": None,
            "created_at": now,
        }

    async def _fan_out_run(self) -> bool:
        added, cursor, moved = await asyncio.to_thread(self.fan_out)
        if added:
            self.deliver_job.wake()
        if moved:
            return True
        if cursor is None:
            return False  # nobody subscribes: look again after FAN_OUT_EVERY
        # Caught up: wait for the log to grow (a change by any worker or host).
        return await self.watch.wait_past(cursor, WATCH_SECONDS)

    # -- delivery -------------------------------------------------------------------

    def lease_due(self) -> list[Any]:
        # Most polls find nothing: a read says so without taking SQLite's write lock.
        with self.database.read() as conn:
            if not store.any_due(conn, self.clock.now(conn)):
                return []
        with self.database.write() as conn:
            now = self.clock.now(conn)
            return store.lease_due(conn, now, now + LEASE, DELIVERY_BATCH)

    async def deliver(self) -> bool:
        """Send the deliveries that are due, a batch at a time, until none is; True if
        there were any. One client for the whole burst keeps connections to receivers
        open; each batch costs two short write transactions (lease, record), however many
        deliveries it holds, so deliveries hardly compete with reservation writes."""
        leased = await asyncio.to_thread(self.lease_due)
        if not leased:
            return False
        async with self.sender.client() as client:
            while leased:
                outcomes = await asyncio.gather(
                    *(
                        self.sender.send(client, row.url, row.secret, row.message_id, row.payload)
                        for row in leased
                    )
                )
                await asyncio.to_thread(
                    self.record_all,
                    [
                        (row.id, outcome, row.event_type != PING)
                        for row, outcome in zip(leased, outcomes, strict=True)
                    ],
                )
                leased = await asyncio.to_thread(self.lease_due)
        return True

    async def _attempt(self, client: httpx.AsyncClient, row: Any) -> int | None:
        outcome = await self.sender.send(client, row.url, row.secret, row.message_id, row.payload)
        return await asyncio.to_thread(self.record, row.id, outcome, retry=row.event_type != PING)

    def record(self, delivery_id: int, outcome: Outcome, *, retry: bool) -> int | None:
        """Keep one attempt and decide what comes next (``record_all``)."""
        return self.record_all([(delivery_id, outcome, retry)])[0]

    def record_all(self, attempts: list[tuple[int, Outcome, bool]]) -> list[int | None]:
        """Keep attempts (delivery id, outcome, whether to retry) and decide what comes
        next for each, in one transaction; return the attempts' ids (None for a delivery
        removed meanwhile)."""
        with self.database.write() as conn:
            now = self.clock.now(conn)
            return [
                self._record(conn, now, delivery_id, outcome, retry)
                for delivery_id, outcome, retry in attempts
            ]

    @staticmethod
    def _record(
        conn: Any, now: datetime, delivery_id: int, outcome: Outcome, retry: bool
    ) -> int | None:
        current = store.delivery(conn, delivery_id, lock=True)
        if current is None:
            return None
        attempt_id = store.add_attempt(
            conn,
            delivery_id=delivery_id,
            at=now,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            response_excerpt=outcome.excerpt,
        )
        count = current.attempt_count + 1
        if current.status != store.PENDING:
            store.settle(conn, delivery_id, attempt_count=count)
        elif outcome.succeeded:
            store.settle(
                conn,
                delivery_id,
                status=store.SUCCEEDED,
                attempt_count=count,
                next_attempt_at=None,
            )
        elif outcome.status_code == 410:
            store.settle(
                conn,
                delivery_id,
                status=store.DISABLED,
                attempt_count=count,
                next_attempt_at=None,
            )
            store.disable_subscription(
                conn, current.subscription_id, "The receiver answered 410 Gone.", now
            )
        else:
            delay = next_attempt_delay(count, outcome.retry_after) if retry else None
            store.settle(
                conn,
                delivery_id,
                status=store.FAILED if delay is None else store.PENDING,
                attempt_count=count,
                next_attempt_at=None if delay is None else now + delay,
            )
        return attempt_id

    # -- ping -----------------------------------------------------------------------

    async def ping(self, subscription_id: int) -> dict[str, Any]:
        """Send a ``webhook.ping`` to a subscription now (no retries); return the attempt."""
        delivery = await asyncio.to_thread(self._add_ping, subscription_id)
        async with self.sender.client() as client:
            attempt_id = await self._attempt(client, delivery)
        return await asyncio.to_thread(self._attempt_values, attempt_id, delivery.id)

    def _add_ping(self, subscription_id: int) -> Any:
        with self.database.write() as conn:
            subscription = store.subscription(conn, subscription_id)
            if subscription is None:
                raise RecordNotFound(f"There is no webhook subscription {subscription_id}.")
            now = self.clock.now(conn)
            body = event_body(
                PING,
                format_iso(now, UTC_ZONE),
                {"subscription_id": subscription_id, "url": subscription.url},
            )
            delivery_id = store.add_delivery(
                conn,
                {
                    "message_id": new_message_id(),
                    "subscription_id": subscription_id,
                    "event_type": PING,
                    "cursor": None,
                    "payload": body,
                    "status": store.PENDING,
                    "attempt_count": 0,
                    "next_attempt_at": now,
                    # Held by this request from the start, so no worker sends it too.
                    "lease_until": now + LEASE,
                    "created_at": now,
                },
            )
            row = store.delivery(conn, delivery_id)
        return _Leased(row, subscription.url, subscription.secret)

    def _attempt_values(self, attempt_id: int | None, delivery_id: int) -> dict[str, Any]:
        with self.database.read() as conn:
            found = None if attempt_id is None else store.attempt(conn, attempt_id)
        if found is None:
            raise RecordNotFound(f"Delivery {delivery_id} was removed while it was sent.")
        return {"delivery_id": delivery_id, **attempt_values(found)}


class _Leased:
    """A delivery row with its subscription's url and secret, as ``lease_due`` gives them."""

    def __init__(self, row: Any, url: str, secret: str) -> None:
        self.id = row.id
        self.message_id = row.message_id
        self.event_type = row.event_type
        self.payload = row.payload
        self.url = url
        self.secret = secret


def attempt_values(row: Any) -> dict[str, Any]:
    return {
        "at": format_iso(row.at, UTC_ZONE),
        "status_code": row.status_code,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "response_excerpt": row.response_excerpt,
    }
