"""Spaces and people.

Removing one that reservations name is refused by a foreign key; that refusal becomes
``StillReferenced`` here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from roomline.domain.errors import StillReferenced
from roomline.domain.reservations import Person, Space
from roomline.storage.direct import DirectStatement, Reads
from roomline.storage.tables import people, reservations, spaces


def space_from_row(row: Any) -> Space:
    return Space(
        id=row.id,
        description=row.description,
        time_zone=row.time_zone,
        preparation_minutes=row.preparation_minutes,
        cleanup_minutes=row.cleanup_minutes,
        capacity=row.capacity,
        bookable=row.bookable,
        building=row.building,
        floor=row.floor,
        features=features_of(row.features),
        check_in_required=bool(row.check_in_required),
        check_in_opens_minutes=row.check_in_opens_minutes,
        auto_release_minutes=row.auto_release_minutes,
    )


def features_of(stored: str | None) -> tuple[str, ...]:
    """Read the features column (tags joined by commas) back into tags."""
    return tuple(stored.split(",")) if stored else ()


def _features_column(features: Any) -> str | None:
    return ",".join(features) or None


# Lookups on every request are built once: building a statement and its cache key
# costs more than the database takes to answer it.
# One space by id (parameter ``id``), in a transaction or through ``Reads``.
SPACE_BY_ID = DirectStatement(select(spaces).where(spaces.c.id == bindparam("id")))
PERSON_BY_ID = DirectStatement(select(people).where(people.c.id == bindparam("id")))


def get_space(conn: Connection | sqlite3.Connection, space_id: str) -> Space | None:
    row = SPACE_BY_ID.first(conn, {"id": space_id})
    return None if row is None else space_from_row(row)


def list_spaces(conn: Connection) -> list[Space]:
    return [space_from_row(row) for row in conn.execute(select(spaces).order_by(spaces.c.id))]


def add_space(conn: Connection, space: Space) -> None:
    conn.execute(insert(spaces).values(**_space_values(space)))


def update_space(conn: Connection, space: Space) -> None:
    conn.execute(update(spaces).where(spaces.c.id == space.id).values(**_space_values(space)))


def remove_space(conn: Connection, space_id: str) -> bool:
    with _referenced_is_refused(f"Space {space_id!r}"):
        return conn.execute(delete(spaces).where(spaces.c.id == space_id)).rowcount > 0


def _space_values(space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "description": space.description,
        "time_zone": space.time_zone,
        "preparation_minutes": space.preparation_minutes,
        "cleanup_minutes": space.cleanup_minutes,
        "capacity": space.capacity,
        "bookable": space.bookable,
        "building": space.building,
        "floor": space.floor,
        "features": _features_column(space.features),
        "check_in_required": space.check_in_required,
        "check_in_opens_minutes": space.check_in_opens_minutes,
        "auto_release_minutes": space.auto_release_minutes,
    }


def get_person(conn: Connection, person_id: str) -> Person | None:
    row = PERSON_BY_ID.first(conn, {"id": person_id})
    return None if row is None else Person(id=row.id, name=row.name)


async def space_on(reads: Reads, space_id: str) -> Space | None:
    """``get_space`` through ``Reads`` (on the event loop, or in a transaction)."""
    rows = await reads.rows(SPACE_BY_ID, {"id": space_id})
    return space_from_row(rows[0]) if rows else None


async def person_on(reads: Reads, person_id: str) -> Person | None:
    """``get_person`` through ``Reads``."""
    rows = await reads.rows(PERSON_BY_ID, {"id": person_id})
    return Person(id=rows[0].id, name=rows[0].name) if rows else None


def list_people(conn: Connection) -> list[Person]:
    return [
        Person(id=r.id, name=r.name) for r in conn.execute(select(people).order_by(people.c.id))
    ]


def add_person(conn: Connection, person: Person) -> None:
    conn.execute(insert(people).values(id=person.id, name=person.name))


def remove_person(conn: Connection, person_id: str) -> bool:
    with _referenced_is_refused(f"Person {person_id!r}"):
        return conn.execute(delete(people).where(people.c.id == person_id)).rowcount > 0


@contextmanager
def _referenced_is_refused(what: str) -> Iterator[None]:
    """Turn the foreign key's refusal (a reservation stored concurrently) into ours."""
    try:
        yield
    except IntegrityError as exc:
        raise StillReferenced(f"{what} is named by reservations and cannot be removed.") from exc


def update_person(conn: Connection, person: Person) -> None:
    conn.execute(update(people).where(people.c.id == person.id).values(name=person.name))


def stored_values(
    conn: Connection, table: Table, ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """Return the stored rows (column → value) of those ``ids`` in spaces or people."""
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):  # stay under every driver's parameter limit
        chunk = wanted[start : start + 500]
        for row in conn.execute(select(table).where(table.c.id.in_(chunk))):
            found[row.id] = dict(row._mapping)
    return found


def reservation_counts(conn: Connection, column: str, value: str) -> tuple[int, int]:
    """Return (all, active) reservations whose ``column`` (space_id/applicant_id) is ``value``."""
    column_ = reservations.c[column]
    active = func.sum(case((reservations.c.status == "Processed", 1), else_=0))
    row = conn.execute(select(func.count(), func.coalesce(active, 0)).where(column_ == value)).one()
    return int(row[0]), int(row[1])


def add_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (column → value) into spaces or people in one statement."""
    if rows:
        conn.execute(insert(table), [_stored(row) for row in rows])


def update_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update spaces or people by id, one executemany for all ``rows``."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != "id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )
    conn.execute(
        statement,
        [{f"b_{name}": value for name, value in _stored(row).items()} for row in rows],
    )


def refresh_statistics(conn: Connection, table: Table) -> None:
    """Let PostgreSQL's planner see ``table`` as it is after a bulk change.

    Until autovacuum gets to it (up to a minute or more), the planner takes a table
    loaded in bulk for the size it had before, and may read a Get's applicants or a
    window in a slow way (docs/performance.md, "no statistics"). SQLite plans without
    such statistics.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table.name}"))


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """A record's values as columns: a space's features list becomes its text column."""
    if isinstance(row.get("features"), list | tuple):
        return {**row, "features": _features_column(row["features"])}
    return row


def space_values(space: Space) -> dict[str, Any]:
    return _space_values(space)
