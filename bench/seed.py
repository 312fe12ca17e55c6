"""Seed a benchmark database in bulk through roomline's storage layer.

Everything goes in with SQLAlchemy Core ``executemany`` on the ``roomline.storage.tables``
tables inside ONE write transaction (``Database.write()``), which is what makes a
million reservations take seconds rather than the hours one request per row would.

The layout is arithmetic, so the wrk scripts can compute any reservation's id and times
without asking the server:

- spaces ``S0001`` … ``S{n}`` in UTC, 5 minutes preparation and 10 minutes cleanup;
- space ``i`` (0-based) holds ``per_space`` reservations with UltimoIds
  ``i * per_space + 1`` … ``(i + 1) * per_space``; its slot ``k`` starts on day
  ``k // SLOTS_PER_DAY`` after ``day0`` at ``06:00 + (k % SLOTS_PER_DAY) * 90 min`` and
  lasts an hour. Blocked intervals (``start - 5 min``, ``end + 10 min``) leave 15 minutes
  between neighbours, so the no-overlap invariant holds and an update may extend a
  reservation by up to 10 minutes without conflicting;
- ``day0`` is tomorrow (UTC midnight), because ``roomline serve`` follows the system clock
  and every seeded reservation must still lie in the future when the load runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, text

from roomline.domain.reservations import ReservationStatus
from roomline.services.keys import store_key
from roomline.storage import reservations as reservation_store
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade
from roomline.storage.tables import people, reservations, spaces

SLOTS_PER_DAY = 8
FIRST_SLOT = timedelta(hours=6)
SLOT_PITCH = timedelta(minutes=90)
SLOT_LENGTH = timedelta(minutes=60)
PREPARATION_MINUTES = 5
CLEANUP_MINUTES = 10
PEOPLE = 100
BATCH = 20_000
EXCLUSION_CONSTRAINT = "ex_reservations_no_overlap"


@dataclass(frozen=True)
class Layout:
    """What the load scripts need to know about a seeded database."""

    spaces: int
    per_space: int
    day0: datetime
    api_key: str

    @property
    def reservations(self) -> int:
        return self.spaces * self.per_space

    @property
    def full_days(self) -> int:
        """Days on which every space has all its slots (Get asks only for these)."""
        return max(1, self.per_space // SLOTS_PER_DAY)

    @property
    def seeded_days(self) -> int:
        return math.ceil(self.per_space / SLOTS_PER_DAY)

    @property
    def free_from(self) -> datetime:
        """Where no seeded reservation lies: Create books its non-conflicting slots here."""
        return self.day0 + timedelta(days=self.seeded_days + 1)

    def environment(self) -> dict[str, str]:
        """The layout as BENCH_* variables for bench/load.lua."""
        return {
            "BENCH_API_KEY": self.api_key,
            "BENCH_SPACES": str(self.spaces),
            "BENCH_PER_SPACE": str(self.per_space),
            "BENCH_FULL_DAYS": str(self.full_days),
            "BENCH_DAY0": str(int(self.day0.timestamp())),
            "BENCH_FREE_FROM": str(int(self.free_from.timestamp())),
            "BENCH_SLOTS_PER_DAY": str(SLOTS_PER_DAY),
            "BENCH_FIRST_SLOT": str(int(FIRST_SLOT.total_seconds())),
            "BENCH_SLOT_PITCH": str(int(SLOT_PITCH.total_seconds())),
            "BENCH_SLOT_LENGTH": str(int(SLOT_LENGTH.total_seconds())),
            "BENCH_PEOPLE": str(PEOPLE),
        }


def space_id(index: int) -> str:
    return f"S{index + 1:04d}"


def person_id(index: int) -> str:
    return f"P{index + 1:03d}"


def seed(database: Database, *, spaces_count: int, total: int, api_key: str) -> Layout:
    """Migrate ``database`` and fill it; return the layout the load scripts rely on."""
    per_space = max(1, total // spaces_count)
    now = datetime.now(UTC)
    day0 = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    layout = Layout(spaces_count, per_space, day0, api_key)
    upgrade(database)
    with database.write() as conn:
        conn.execute(
            insert(spaces),
            [
                {
                    "id": space_id(i),
                    "description": f"Bench room {i + 1}",
                    "time_zone": "UTC",
                    "preparation_minutes": PREPARATION_MINUTES,
                    "cleanup_minutes": CLEANUP_MINUTES,
                    "capacity": 8,
                    "bookable": True,
                }
                for i in range(spaces_count)
            ],
        )
        conn.execute(
            insert(people),
            [{"id": person_id(i), "name": f"Bench, P{i + 1}."} for i in range(PEOPLE)],
        )
        store_key(conn, name="bench", secret=api_key, now=now)
        with _no_overlap_checked_after(conn):
            _insert_reservations(conn, _reservation_batches(layout, now))
        reservation_store.continue_numbering_after(conn, layout.reservations)
    if database.dialect == "postgresql":
        # The statistics autovacuum gathers within a minute of a bulk load on a live
        # database. Without them the planner takes the table for empty and reads a Get's
        # window through the exclusion constraint's GiST index on the space alone: every
        # reservation of the space, 0.7 ms of PostgreSQL's time a Get at 1M instead of 0.1.
        with database.write() as conn:
            conn.execute(text("ANALYZE"))
        # And the load's pages written out now, as a live database's checkpoints would
        # have within minutes, rather than by a checkpoint that falls into the first
        # measured phase (a Get's p99 of 207 ms once, against 10 ms in the run before).
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
    return layout


def _insert_reservations(conn: Connection, batches: Iterator[list[dict[str, Any]]]) -> None:
    """Insert the rows; on PostgreSQL with COPY (a million rows: 38 s instead of 65 s)."""
    if conn.dialect.name != "postgresql":
        for batch in batches:
            conn.execute(insert(reservations), batch)
        return
    # The columns the rows give; the others (a series, say) take their defaults.
    columns = [column.name for column in reservations.columns]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for batch in batches:
        given = [name for name in columns if name in batch[0]]
        with cursor.copy(f"COPY reservations ({', '.join(given)}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row([row[name] for name in given])
    cursor.close()


@contextmanager
def _no_overlap_checked_after(conn: Connection) -> Iterator[None]:
    """Check the no-overlap rule once over all seeded rows instead of row by row.

    PostgreSQL's exclusion constraint and SQLite's no-overlap triggers check every
    inserted row against the space's other reservations; at a million rows that costs
    minutes. So the guard is lifted for the bulk insert and put back afterwards, all
    inside the seeding transaction (nobody sees the table unguarded): re-adding the
    PostgreSQL constraint checks every row, and on SQLite one query over neighbouring
    rows proves the seed respects the invariant before it commits.
    """
    if conn.dialect.name == "postgresql":
        definition = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = :name AND conrelid = 'reservations'::regclass"
            ),
            {"name": EXCLUSION_CONSTRAINT},
        ).scalar_one()
        conn.execute(text(f"ALTER TABLE reservations DROP CONSTRAINT {EXCLUSION_CONSTRAINT}"))
        yield
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        conn.execute(
            text(f"ALTER TABLE reservations ADD CONSTRAINT {EXCLUSION_CONSTRAINT} {definition}")
        )
        return
    triggers = conn.execute(
        text(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'trigger' AND tbl_name = 'reservations'"
        )
    ).all()
    for name, _sql in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    overlapping = conn.execute(
        text(
            "SELECT count(*) FROM (SELECT blocked_start, LAG(blocked_end) OVER "
            "(PARTITION BY space_id ORDER BY blocked_start) AS previous_end "
            "FROM reservations WHERE status = 'Processed') WHERE previous_end > blocked_start"
        )
    ).scalar_one()
    if overlapping:
        raise RuntimeError(f"the seed would overlap {overlapping} reservations")
    for _name, sql in triggers:
        conn.exec_driver_sql(sql)


def _reservation_batches(layout: Layout, now: datetime) -> Iterator[list[dict[str, Any]]]:
    prep = timedelta(minutes=PREPARATION_MINUTES)
    cleanup = timedelta(minutes=CLEANUP_MINUTES)
    processed = ReservationStatus.PROCESSED.value
    # The same few hundred slot starts repeat for every space: compute them once.
    starts = [
        layout.day0
        + timedelta(days=k // SLOTS_PER_DAY)
        + FIRST_SLOT
        + (k % SLOTS_PER_DAY) * SLOT_PITCH
        for k in range(layout.per_space)
    ]
    batch: list[dict[str, Any]] = []
    for i in range(layout.spaces):
        sid = space_id(i)
        first = i * layout.per_space + 1
        for k, start in enumerate(starts):
            end = start + SLOT_LENGTH
            batch.append(
                {
                    "ultimo_id": first + k,
                    "space_id": sid,
                    "applicant_id": person_id((i + k) % PEOPLE),
                    "description": "Bench meeting",
                    "start_time": start,
                    "end_time": end,
                    "preparation_minutes": PREPARATION_MINUTES,
                    "cleanup_minutes": CLEANUP_MINUTES,
                    "blocked_start": start - prep,
                    "blocked_end": end + cleanup,
                    "status": processed,
                    "api_key_id": None,
                    "external_id": "",
                    "request_fingerprint": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch
