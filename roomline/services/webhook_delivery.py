"""Delivering webhooks from the log of changes: at least once, never lost (SPEC §8–§9).

One background job in every server process works in rounds. A round:

1. reads the log after the fan-out's cursor and shapes each new change's body, once per
   change, in a read transaction (outside SQLite's one write lock);
2. in **one write transaction**: records the attempts that ended since the previous
   round and what comes next for each (``RETRY_DELAYS``); if the fan-out's ``job_state`` row still holds
   the cursor it read (no other worker fanned the page out meanwhile), adds a delivery
   for every active subscription each change matches, already leased to this worker, and
   moves the cursor; and leases deliveries that are due (retries, replays, those a killed
   worker left behind) (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's one writer);
3. starts sending what it took (``webhook_sender``); the attempts run beside the next
   rounds, which record them as they end, so a slow receiver holds up no one else.

A change is either fanned out and the cursor moved, or neither; a delivery is leased and
committed before it is sent. A worker killed while sending leaves its leases behind; once
they expire (``LEASE``), another worker sends again, with the same ``webhook-id``; a
round the database refuses (locked past its wait, unreachable) keeps the attempts that
ended for the next one, so they are recorded, not sent again, once it answers; and as a
round whose commit went unanswered may have been written after all, the next records only
the attempts whose lease (``lease_id``) is not recorded yet. One
write transaction a round, however many deliveries it holds, keeps delivery from taking
SQLite's write lock away from reservation writes hundreds of times a second. While the
log is quiet the job waits for it to grow (``ChangeWatch``, which sees changes of every
worker and host), and looks for retries coming due every second (``DELIVER_EVERY``).

Scheduling (next attempt, leases) follows the server's clock, so a demo's clock moves
retries; the HTTP timeout and the signature's ``webhook-timestamp`` are real time, since
receivers compare that with their own clocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from roomline.domain.errors import RecordNotFound, ServiceUnavailable
from roomline.domain.times import format_iso
from roomline.domain.webhooks import Targets, next_attempt_delay, signing_secrets
from roomline.services.background import Job
from roomline.services.changes import Change, ChangeLog, ChangeWatch, change_json
from roomline.services.clock import Clock
from roomline.services.webhook_sender import Outcome, Sender, Session
from roomline.storage import audit as log_store
from roomline.storage import jobs as job_store
from roomline.storage import webhooks as store
from roomline.storage.database import Database, DatabaseUnavailable

log = logging.getLogger("roomline.webhooks")

FAN_OUT_JOB = "webhooks.fan_out"
PING = "webhook.ping"
# Longer than a send can take (SEND_TIMEOUT for the answer, plus resolving and recording),
# counted from the round's read, which may come the database's wait (30 s by default)
# before its write.
LEASE = timedelta(seconds=60)
# Changes read a round, and due deliveries leased a round besides the new ones.
FAN_OUT_PAGE = 500
DELIVERY_BATCH = 100
# Fallback polling, for what no wake-up announces: retries coming due, other hosts' work,
# a subscription added by another process.
DELIVER_EVERY = 1.0
# Between rounds while deliveries are under way: at least ROUND_GAP (so each round
# gathers what ended and what was logged meanwhile), at most ROUND_IDLE while nothing ends.
ROUND_GAP = 0.05
ROUND_IDLE = 0.2
# After a round the database refused (locked past its wait, unreachable).
ROUND_RETRY = 1.0
# Attempts under way at once; past it a round records but takes nothing new.
MAX_IN_FLIGHT = 2000
UTC_ZONE = ZoneInfo("UTC")
# Deliveries looked at a transaction when pruning (each batch its own write transaction).
PRUNE_BATCH = 500


def new_message_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def new_lease_id() -> str:
    return secrets.token_urlsafe(12)


def event_body(event_type: str, timestamp: str, data: dict[str, Any]) -> str:
    """The Standard Webhooks payload ``{"type", "timestamp", "data"}``, as sent and signed."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def change_body(change: Change) -> str:
    """A change's webhook body: its event as the change feed shows it, at its time."""
    event = change_json(change)
    return event_body(change.type, event["at"], event)


@dataclass(frozen=True, slots=True)
class Leased:
    """A delivery this worker holds, with what sending it takes. ``leased_at`` (the
    server's clock as the lease was taken, just before sending) is the attempt's time, and
    its retry is scheduled from then, not from when the attempt is recorded. ``lease_id``
    names this lease, and so the one attempt it makes."""

    message_id: str
    event_type: str
    payload: str
    url: str
    secrets: tuple[str, ...]
    leased_at: datetime
    lease_id: str = field(default_factory=new_lease_id)

    @classmethod
    def of(cls, row: Any, leased_at: datetime) -> Leased:
        """From a delivery row joined with its subscription's url and secrets."""
        secrets = subscription_secrets(row, leased_at)
        return cls(row.message_id, row.event_type, row.payload, row.url, secrets, leased_at)


@dataclass(frozen=True, slots=True)
class Round:
    """What a round holds to send, and the fan-out's cursor (None: nobody subscribes)."""

    sends: list[Leased]
    cursor: int | None


class Subscriber:
    """An active subscription as the fan-out matches changes against it at ``now``."""

    def __init__(self, row: Any, now: datetime) -> None:
        self.id: int = row.id
        self.url: str = row.url
        self.secrets = subscription_secrets(row, now)
        self.start_cursor: int = row.start_cursor
        self.event_types = frozenset(json.loads(row.event_types))
        self.space_ids = frozenset(json.loads(row.space_ids))

    def wants(self, change: Change) -> bool:
        return (
            change.cursor > self.start_cursor
            and change.type in self.event_types
            and (not self.space_ids or change.reservation.space_id in self.space_ids)
        )


@dataclass(frozen=True, slots=True)
class _Page:
    """A page of the log read after ``cursor``, as deliveries to add (and their rows as
    ``add_deliveries`` takes them), leased from ``leased_at``."""

    cursor: int
    through: int
    deliveries: list[tuple[Subscriber, dict[str, Any]]]
    deliveries_json: str
    leased_at: datetime


class WebhookDelivery:
    """The delivery job of one server process, and ``ping``."""

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
        self.job = Job("webhooks_deliver", DELIVER_EVERY, self.run)

    def jobs(self) -> list[Job]:
        return [self.job]

    def wake(self) -> None:
        """Look at the log and the deliveries now (a subscription added, a replay)."""
        self.job.wake()

    async def run(self) -> bool:
        """Rounds while anything is left to send or record; True if anything was sent.

        Attempts run beside the rounds: each round records the attempts that ended since
        the one before while the others are still on their way, so neither a slow
        receiver nor a wait for SQLite's write lock holds up the rest. One client for the
        whole burst keeps connections to receivers open."""
        held = await asyncio.to_thread(self.next_round, [], True)
        if not held.sends:
            if held.cursor is None:
                return False  # nobody subscribes: look again after DELIVER_EVERY
            # Caught up: wait for the log to grow (a change by any worker or host). If
            # nothing came, run again at once (which looks for retries coming due) rather
            # than sleep DELIVER_EVERY more without watching the log: a change in that
            # sleep waited up to a second more.
            grew = await self.watch.wait_past(held.cursor, DELIVER_EVERY)
            if not grew:
                self.job.wake()
            return grew
        ended: list[tuple[Leased, Outcome]] = []
        # Leases of attempts a refused round held: that round may have committed them.
        unsure: set[str] = set()
        in_flight: set[asyncio.Task[None]] = set()

        async def attempt(session: Session, delivery: Leased) -> None:
            ended.append((delivery, await _send(session, delivery)))

        async with self.sender.session() as session:
            try:
                while held.sends or in_flight or ended:
                    for delivery in held.sends:
                        task = asyncio.create_task(attempt(session, delivery))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    # A pause between rounds gathers more into each one; then, while
                    # nothing has ended, the log is looked at every ROUND_IDLE.
                    await asyncio.sleep(ROUND_GAP)
                    if in_flight and not ended:
                        await asyncio.wait(
                            in_flight, timeout=ROUND_IDLE, return_when=asyncio.FIRST_COMPLETED
                        )
                    finished = ended[:]
                    ended.clear()
                    try:
                        held = await asyncio.to_thread(
                            self.next_round, finished, len(in_flight) < MAX_IN_FLIGHT, unsure
                        )
                        unsure.clear()  # every attempt it held is recorded now
                    except (ServiceUnavailable, *DatabaseUnavailable) as exc:
                        # Keep what ended for the next round. Given up, each would be sent
                        # again once its lease expired, though its receiver had it. The
                        # error may have come after the commit (its answer lost), so the
                        # next round looks for these before recording them.
                        ended[:0] = finished
                        unsure.update(delivery.lease_id for delivery, _ in finished)
                        log.warning(
                            "webhooks: a round could not be written (%s); %d attempts that "
                            "ended wait to be recorded, trying again in %g s",
                            exc,
                            len(ended),
                            ROUND_RETRY,
                        )
                        held = Round([], held.cursor)
                        await asyncio.sleep(ROUND_RETRY)
            finally:
                for task in in_flight:
                    task.cancel()  # their leases expire and another round sends them again
        return True

    def next_round(
        self,
        finished: list[tuple[Leased, Outcome]],
        take: bool,
        unsure: AbstractSet[str] = frozenset(),
    ) -> Round:
        """Record ``finished`` attempts and, if ``take``, the next deliveries to send
        (module docstring), in one write transaction; none when there is nothing to
        write. Of the attempts whose lease is in ``unsure``, those recorded already are
        left alone."""
        with self.database.read() as conn:
            store.plan_each_statement(conn)
            now = self.clock.now(conn)
            cursor = job_store.cursor_in(conn, FAN_OUT_JOB)
            subscribers = [
                Subscriber(row, now) for row in store.subscriptions(conn, active_only=True)
            ]
            changes = (
                self.changes.read_after(conn, cursor, FAN_OUT_PAGE)
                if take and cursor is not None and subscribers
                else []
            )
            due = take and store.any_due(conn, now)
        if subscribers and cursor is None:
            cursor = self._start_at_latest()
        page = (
            self._page(cursor, subscribers, changes, now)
            if cursor is not None and changes
            else None
        )
        if not finished and page is None and not due:
            return Round([], cursor if subscribers else None)
        # The rows are encoded before the write transaction, so that SQLite's write lock,
        # which every reservation write waits for, is held only to run the statements.
        attempts = _attempts_json(finished)
        with self.database.write() as conn:
            store.plan_each_statement(conn)
            now = self.clock.now(conn)
            if unsure:
                finished, attempts = _not_recorded(conn, finished, attempts, unsure)
            self._record(conn, now, finished, attempts)
            sends: list[Leased] = []
            if page is not None:
                sends, cursor = self._fan_out(conn, page)
            if due:
                sends += [
                    Leased.of(row, now)
                    for row in store.lease_due(conn, now, now + LEASE, DELIVERY_BATCH)
                ]
        return Round(sends, cursor)

    # -- fan-out --------------------------------------------------------------------

    @staticmethod
    def _page(
        cursor: int, subscribers: list[Subscriber], changes: list[Change], now: datetime
    ) -> _Page:
        """Shape the deliveries of a page of the log, leased from ``now``: each change's
        body once, however many subscriptions it goes to."""
        deliveries = []
        for change in changes:
            wanting = [subscriber for subscriber in subscribers if subscriber.wants(change)]
            if not wanting:
                continue
            body = change_body(change)
            deliveries += [
                (
                    subscriber,
                    {
                        "message_id": new_message_id(),
                        "subscription_id": subscriber.id,
                        "event_type": change.type,
                        "cursor": change.cursor,
                        "payload": body,
                        "status": store.PENDING,
                        "attempt_count": 0,
                        "next_attempt_at": now,
                        "lease_until": now + LEASE,
                        "created_at": now,
                    },
                )
                for subscriber in wanting
            ]
        rows = [values for _, values in deliveries]
        return _Page(cursor, changes[-1].cursor, deliveries, store.deliveries_json(rows), now)

    @staticmethod
    def _fan_out(conn: Any, page: _Page) -> tuple[list[Leased], int]:
        """Add the page's deliveries, leased to this worker, and move the cursor past it;
        nothing if another worker fanned it out meanwhile. Return them and the cursor."""
        cursor = job_store.claim(conn, FAN_OUT_JOB, page.leased_at)
        if cursor != page.cursor:
            return [], cursor if cursor is not None else page.cursor
        # A subscription removed or disabled meanwhile gets nothing; one added meanwhile
        # starts after the log's end at that moment, so after this page.
        active = {row.id for row in store.subscriptions(conn, active_only=True)}
        kept = [(s, values) for s, values in page.deliveries if s.id in active]
        if len(kept) == len(page.deliveries):
            store.add_deliveries(conn, page.deliveries_json)
        else:
            store.add_deliveries(conn, store.deliveries_json([values for _, values in kept]))
        job_store.set_cursor(conn, FAN_OUT_JOB, page.through, page.leased_at)
        sends = [
            Leased(v["message_id"], v["event_type"], v["payload"], s.url, s.secrets, page.leased_at)
            for s, v in kept
        ]
        return sends, page.through

    def prune(self, kept_days: int) -> int:
        """Delete the deliveries that ended (delivered, given up, stopped) with their
        attempts, once ``kept_days`` have passed since they were made and since their last
        attempt; return how many. Pending ones stay, however old."""
        deleted = 0
        walk_from: int | None = 0
        while walk_from is not None:
            with self.database.write() as conn:
                before = self.clock.now(conn) - timedelta(days=kept_days)
                count, walk_from = store.delete_ended_before(conn, before, walk_from, PRUNE_BATCH)
            deleted += count
        return deleted

    @staticmethod
    def fanned_out_through(conn: Any) -> int | None:
        """The newest change the fan-out has read, while anyone subscribes. A change after
        it is the only source of its deliveries (once fanned out, each delivery keeps its
        own body), so the pruner keeps it, however old: the background process may have
        been stopped, or its rounds refused, for longer than the log is kept. None when
        nobody subscribes, or the fan-out has not begun (it begins at the log's end)."""
        if not store.subscriptions(conn, active_only=True):
            return None
        return job_store.cursor_in(conn, FAN_OUT_JOB)

    def _start_at_latest(self) -> int:
        """Subscriptions but no cursor (``add`` sets one; a database from before it did
        not): start at the log's end, as a new subscription does."""
        with self.database.write() as conn:
            now = self.clock.now(conn)
            cursor = job_store.claim(conn, FAN_OUT_JOB, now)
            if cursor is None:
                cursor = log_store.latest_cursor_in(conn)
                job_store.set_cursor(conn, FAN_OUT_JOB, cursor, now)
        return cursor

    # -- recording ------------------------------------------------------------------

    def record(self, delivery: Leased, outcome: Outcome) -> None:
        """Keep one attempt (a ping's) in a transaction of its own."""
        finished = [(delivery, outcome)]
        attempts = _attempts_json(finished)
        with self.database.write() as conn:
            self._record(conn, self.clock.now(conn), finished, attempts)

    @staticmethod
    def _record(
        conn: Any, now: datetime, finished: list[tuple[Leased, Outcome]], attempts: str
    ) -> None:
        """Keep attempts (``finished``, and ``attempts``: their rows from ``_attempts_json``)
        and decide what comes next for each delivery (nothing for one removed meanwhile).
        Successes, the usual case, take a few statements for all of them, with no read
        before; the rest one at a time."""
        if not finished:
            return
        store.add_attempts(conn, attempts)
        # Successes before the rest: a 410 in the same round disables what is still
        # pending of its subscription, not what was just delivered.
        store.settle_succeeded(
            conn, [delivery.message_id for delivery, outcome in finished if outcome.succeeded]
        )
        rest = [(delivery, outcome) for delivery, outcome in finished if not outcome.succeeded]
        current = store.deliveries_by_message_id(conn, [d.message_id for d, _ in rest])
        disabled: set[int] = set()
        for delivery, outcome in rest:
            if delivery.message_id in current:
                _settle(conn, now, current[delivery.message_id], delivery, outcome, disabled)

    # -- ping -----------------------------------------------------------------------

    async def ping(self, subscription_id: int) -> dict[str, Any]:
        """Send a ``webhook.ping`` to a subscription now (no retries); return the attempt."""
        delivery_id, delivery = await asyncio.to_thread(self._add_ping, subscription_id)
        async with self.sender.session() as session:
            outcome = await _send(session, delivery)
        await asyncio.to_thread(self.record, delivery, outcome)
        return await asyncio.to_thread(self._attempt_values, delivery_id)

    def _add_ping(self, subscription_id: int) -> tuple[int, Leased]:
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
            message_id = new_message_id()
            delivery_id = store.add_delivery(
                conn,
                {
                    "message_id": message_id,
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
        secrets = subscription_secrets(subscription, now)
        leased = Leased(message_id, PING, body, subscription.url, secrets, now)
        return delivery_id, leased

    def _attempt_values(self, delivery_id: int) -> dict[str, Any]:
        with self.database.read() as conn:
            found = store.last_attempt(conn, delivery_id)
        if found is None:
            raise RecordNotFound(f"Delivery {delivery_id} was removed while it was sent.")
        return {"delivery_id": delivery_id, **attempt_values(found)}


def subscription_secrets(row: Any, now: datetime) -> tuple[str, ...]:
    """The secrets that sign a subscription's deliveries at ``now`` (its row's)."""
    return signing_secrets(row.secret, row.previous_secret, row.previous_secret_until, now)


def _attempts_json(finished: list[tuple[Leased, Outcome]]) -> str:
    return store.attempts_json(
        [
            {
                "message_id": delivery.message_id,
                "at": delivery.leased_at,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
                "response_excerpt": outcome.excerpt,
                "lease_id": delivery.lease_id,
            }
            for delivery, outcome in finished
        ]
    )


def _not_recorded(
    conn: Any,
    finished: list[tuple[Leased, Outcome]],
    attempts: str,
    unsure: AbstractSet[str],
) -> tuple[list[tuple[Leased, Outcome]], str]:
    """``finished`` and its rows (``attempts``) without the attempts a round that was
    refused had recorded after all (their leases in ``unsure``, found in the table)."""
    recorded = store.recorded_leases(
        conn, [(d.message_id, d.lease_id) for d, _ in finished if d.lease_id in unsure]
    )
    if not recorded:
        return finished, attempts
    kept = [
        (delivery, outcome) for delivery, outcome in finished if delivery.lease_id not in recorded
    ]
    log.info(
        "webhooks: %d attempts were recorded by a round whose commit went unanswered", len(recorded)
    )
    return kept, _attempts_json(kept)


async def _send(session: Session, delivery: Leased) -> Outcome:
    return await session.send(delivery.url, delivery.secrets, delivery.message_id, delivery.payload)


def _settle(
    conn: Any, now: datetime, row: Any, delivery: Leased, outcome: Outcome, disabled: set[int]
) -> None:
    """Where a delivery stands after an attempt that was not its first success.
    ``disabled``: subscriptions a 410 disabled earlier in the round (their pending
    deliveries are disabled already)."""
    count = row.attempt_count + 1
    if row.status != store.PENDING or row.subscription_id in disabled:
        store.settle(conn, row.id, attempt_count=count)
    elif outcome.status_code == 410:
        store.settle(conn, row.id, status=store.DISABLED, attempt_count=count, next_attempt_at=None)
        store.disable_subscription(
            conn, row.subscription_id, "The receiver answered 410 Gone.", now
        )
        disabled.add(row.subscription_id)
    else:
        retry = delivery.event_type != PING
        delay = next_attempt_delay(count, outcome.retry_after) if retry else None
        store.settle(
            conn,
            row.id,
            status=store.FAILED if delay is None else store.PENDING,
            attempt_count=count,
            next_attempt_at=None if delay is None else delivery.leased_at + delay,
        )


def attempt_values(row: Any) -> dict[str, Any]:
    return {
        "at": format_iso(row.at, UTC_ZONE),
        "status_code": row.status_code,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "response_excerpt": row.response_excerpt,
    }
