"""The log of changes as its readers see it (SPEC §8): pages after a cursor, and waiting.

The log is the audit trail: one entry per committed reservation change, written in the
change's own transaction (``services.audit.record``), numbered in commit order
(``storage.audit``). A reader keeps the cursor of the last change it has seen and asks
for the changes after it; ``next`` of each page is where to go on from, so a reader
never sees a change twice and never misses one.

How far back a reader can go: ``ROOMLINE_EVENT_RETENTION_DAYS``. The audit trail itself
keeps its entries for ``ROOMLINE_AUDIT_RETENTION_DAYS`` (default: for ever); the
background pruner deletes entries once both have passed. A cursor whose next change is
older than the feed reaches, or was deleted, answers ``CursorExpired``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roomline.domain.errors import (
    CursorExpired,
    InvalidParameter,
    ServiceUnavailable,
    UnknownSpace,
)
from roomline.domain.reservations import Reservation, ReservationStatus
from roomline.domain.times import format_iso, zone_named
from roomline.services.clock import Clock
from roomline.services.shared_calls import SharedCalls
from roomline.storage import audit as log_store
from roomline.storage import jobs as job_store
from roomline.storage.database import Database, DatabaseUnavailable
from roomline.storage.direct import OnConnection, Reads, drive
from roomline.storage.hotpath import HotPath, HotPaths, SqlHotPath
from roomline.storage.masterdata import SPACE_BY_ID

log = logging.getLogger("roomline.changes")

# What each recorded action is called where readers see it (webhooks, feeds, streams).
EVENT_TYPES = {
    "create": "reservation.created",
    "update": "reservation.updated",
    "cancel": "reservation.cancelled",
    "check_in": "reservation.checked_in",
    "release": "reservation.released",
    "end": "reservation.ended",
}
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_WAIT_SECONDS = 30
# The pruner records the newest entry it deleted here: a cursor below it has lost changes.
PRUNED_THROUGH = "log.pruned_through"
PRUNE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: its cursor, type, time, the reservation after it, and who."""

    cursor: int
    type: str
    at: datetime
    reservation: Reservation
    applicant_name: str
    time_zone: str
    key_name: str | None
    via: str | None


@dataclass(frozen=True, slots=True)
class ChangePage:
    changes: list[Change]
    next: int


@dataclass(frozen=True, slots=True)
class Retention:
    """How long the change feed reaches back, and how long the audit trail keeps entries
    (None: for ever)."""

    event_days: int
    audit_days: int | None = None

    def feed_horizon(self, now: datetime) -> datetime:
        return now - timedelta(days=self.event_days)

    def prune_before(self, now: datetime) -> datetime | None:
        if self.audit_days is None:
            return None
        return now - timedelta(days=max(self.event_days, self.audit_days))


def parse_cursor(name: str, text: str | None) -> int | None:
    """Read a cursor: the decimal ``next`` of an earlier page (or an event's ``cursor``)."""
    if text is None or text == "":
        return None
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise InvalidParameter(
            f"{name} {text[:40]!r} is not a cursor; give the 'next' of an earlier page."
        )
    return int(digits)


class ChangeLog:
    """Reads the log for one deployment: its database, clock, zones and retention."""

    def __init__(
        self, database: Database, clock: Clock, default_zone: str, retention: Retention
    ) -> None:
        self.database = database
        self.clock = clock
        self.default_zone = default_zone
        self.retention = retention

    def page(
        self, after: int | None, space_id: str | None = None, limit: int = DEFAULT_PAGE
    ) -> ChangePage:
        """``page_on`` in the calling thread (the CLI)."""
        with self.database.read() as conn:
            return drive(self.page_on(SqlHotPath(conn, self.clock), after, space_id, limit))

    async def page_on(
        self, path: HotPath, after: int | None, space_id: str | None, limit: int
    ) -> ChangePage:
        """Return the changes after ``after`` (None: from the oldest the feed reaches), of
        one space if given, oldest first, and the cursor to go on from."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidParameter(f"limit must be between 1 and {MAX_PAGE}.")
        if space_id is not None and not await path.rows(SPACE_BY_ID, {"id": space_id}):
            raise UnknownSpace.named(space_id)
        # The newest cursor first: on PostgreSQL each statement reads its own snapshot, and
        # a change committed between the two reads must not be skipped by ``next``.
        latest = await log_store.latest_cursor(path)
        horizon = self.retention.feed_horizon(await path.now())
        if after is None:
            first = await log_store.first_since(path, horizon)
            after = latest if first is None else first - 1
        else:
            await self._check_reachable(path, after, horizon)
        changes = await self._changes(path, after, latest, space_id, limit)
        if len(changes) == limit:
            return ChangePage(changes, changes[-1].cursor)
        return ChangePage(changes, max(after, latest))

    def read_after(self, conn: Any, after: int, limit: int) -> list[Change]:
        """The changes after ``after`` in the caller's transaction, oldest first, however
        old: for background readers (webhooks) that move their own cursor with them."""
        reads = OnConnection(conn)
        latest = drive(log_store.latest_cursor(reads))
        return drive(self._changes(reads, after, latest, None, limit))

    def latest(self) -> int:
        with self.database.read() as conn:
            return log_store.latest_cursor_in(conn)

    async def latest_on(self, path: HotPath) -> int:
        return await log_store.latest_cursor(path)

    def prune(self, read_through: Callable[[Any], int | None]) -> int:
        """Delete entries both the feed and the audit trail are past; return how many.

        ``read_through``, asked in the pruning transaction, names the newest entry that a
        reader which must see every change (the webhooks' fan-out) has read; the entries
        after it are kept, however old (None: nobody holds any back)."""
        if self.retention.audit_days is None:
            return 0  # the audit trail keeps everything: nothing to look at, no write lock
        deleted = 0
        while True:
            with self.database.write() as conn:
                before = self.retention.prune_before(self.clock.now(conn))
                if before is None:
                    return deleted
                newest = log_store.delete_before(conn, before, PRUNE_BATCH, read_through(conn))
                if newest is None:
                    return deleted
                count, through = newest
                job_store.raise_cursor(conn, PRUNED_THROUGH, through, self.clock.now(conn))
            deleted += count

    async def _check_reachable(self, reads: Reads, after: int, horizon: datetime) -> None:
        pruned = await job_store.cursor(reads, PRUNED_THROUGH)
        following = await log_store.first_after(reads, after)
        if (pruned is not None and after < pruned) or (
            following is not None and following.at < horizon
        ):
            raise CursorExpired(
                f"The changes after cursor {after} are no longer kept (the feed reaches "
                f"back {self.retention.event_days} days); start again without a cursor."
            )

    async def _changes(
        self, reads: Reads, after: int, through: int, space_id: str | None, limit: int
    ) -> list[Change]:
        """The entries ``after < cursor <= through`` (of one space if given) as changes."""
        rows = await log_store.changes_after(reads, after, through, space_id, limit)
        afters = [json.loads(row.after_state) for row in rows]
        names = await log_store.names_of(reads, {a["applicant_id"] for a in afters})
        return [self._change(row, a, names) for row, a in zip(rows, afters, strict=True)]

    def _change(self, row: Any, after: dict[str, Any], names: dict[str, str]) -> Change:
        reservation = Reservation(
            ultimo_id=after["ultimo_id"],
            space_id=after["space_id"],
            applicant_id=after["applicant_id"],
            description=after["description"],
            start=datetime.fromisoformat(after["start"]),
            end=datetime.fromisoformat(after["end"]),
            preparation_minutes=after["preparation_minutes"],
            cleanup_minutes=after["cleanup_minutes"],
            status=ReservationStatus(after["status"]),
            external_id=after.get("external_id", ""),
            series_id=after.get("series_id"),
        )
        return Change(
            cursor=row.id,
            type=EVENT_TYPES.get(row.action, f"reservation.{row.action}"),
            at=row.at,
            reservation=reservation,
            applicant_name=names.get(reservation.applicant_id, ""),
            time_zone=row.time_zone or self.default_zone,
            key_name=row.key_name,
            via=row.workflow,
        )


def change_json(change: Change) -> dict[str, Any]:
    """One change as every reader gets it (feed, stream, webhook ``data``)."""
    zone = zone_named(change.time_zone)
    reservation = change.reservation
    blocked = reservation.blocked
    return {
        "cursor": str(change.cursor),
        "type": change.type,
        "at": format_iso(change.at, zone),
        "reservation": {
            "ultimo_id": f"{reservation.ultimo_id:011d}",
            "space_id": reservation.space_id,
            "applicant_id": reservation.applicant_id,
            "applicant_name": change.applicant_name,
            "description": reservation.description,
            "start": format_iso(reservation.start, zone),
            "end": format_iso(reservation.end, zone),
            "blocked_start": format_iso(blocked.start, zone),
            "blocked_end": format_iso(blocked.end, zone),
            "status": reservation.status.value,
            "series_id": reservation.series_id,
        },
        "by": {"key_name": change.key_name, "via": change.via},
    }


def page_json(page: ChangePage) -> dict[str, Any]:
    return {"events": [change_json(c) for c in page.changes], "next": str(page.next)}


class ChangeWatch:
    """Wakes the waiters of one process (long polls, streams) when the log grows.

    One task per process reads the newest cursor every ``interval`` seconds while anyone
    waits, and nobody polls while nobody waits. Reading the database, not a message from
    the writer, is what lets a change made by any worker or host reach every waiter.
    """

    def __init__(self, latest: Callable[[], int], interval: float = 0.2) -> None:
        self._read_latest = latest
        self.interval = interval
        self._latest: int | None = None
        self._waiters = 0
        self._grew = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None

    async def wait_past(self, cursor: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a change after ``cursor``; True if one came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiters += 1
        try:
            if self._poller is None or self._poller.done():
                self._poller = loop.create_task(self._poll())
            while self._latest is None or self._latest <= cursor:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                grew = self._grew
                try:
                    await asyncio.wait_for(grew.wait(), remaining)
                except TimeoutError:
                    return False
            return True
        finally:
            self._waiters -= 1

    async def _poll(self) -> None:
        while self._waiters > 0:
            try:
                latest = await asyncio.to_thread(self._read_latest)
            except (ServiceUnavailable, *DatabaseUnavailable) as exc:
                log.warning("change watch: the database did not answer (%s)", exc)
            else:
                if latest != self._latest:
                    self._latest = latest
                    grew, self._grew = self._grew, asyncio.Event()
                    grew.set()
            await asyncio.sleep(self.interval)


class SharedPages:
    """Pages of the whole log for the streams and long polls of one process, each read once
    however many ask for it at the same moment; a reader of one space keeps that space's
    changes.

    A change wakes every waiter of the process (``ChangeWatch``), and all of them then ask
    for the page after the same cursor: a hundred door panels, each streaming (or long
    polling) its own space, read the log once instead of a hundred times (on PostgreSQL the
    hundred reads cost Create more than half its throughput: docs/performance.md). Only
    reads under way are shared, so a page is never older than the moment it was asked for.
    """

    def __init__(self, log: ChangeLog, hot: HotPaths) -> None:
        self.log = log
        self.hot = hot
        self._reads: SharedCalls[int, ChangePage] = SharedCalls()

    async def after(self, cursor: int, space_id: str | None, limit: int = MAX_PAGE) -> ChangePage:
        """The page after ``cursor``, with only the changes of ``space_id`` if given, and
        at most ``limit`` of them. Its ``next`` is as for the whole log, or, when ``limit``
        cut it short, the cursor of its last change."""
        page = await self._reads.run(cursor, lambda: self._read(cursor))
        mine = page.changes
        if space_id is not None:
            mine = [change for change in mine if change.reservation.space_id == space_id]
        if len(mine) > limit:
            return ChangePage(mine[:limit], mine[limit - 1].cursor)
        return page if mine is page.changes else ChangePage(mine, page.next)

    async def _read(self, cursor: int) -> ChangePage:
        return await self.hot.read(lambda path: self.log.page_on(path, cursor, None, MAX_PAGE))
