"""Spaces and people."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from roomline.domain.reservations import Person, Space
from roomline.storage.tables import people, spaces


def _space(row: Any) -> Space:
    return Space(
        id=row.id,
        description=row.description,
        time_zone=row.time_zone,
        preparation_minutes=row.preparation_minutes,
        cleanup_minutes=row.cleanup_minutes,
        capacity=row.capacity,
        bookable=row.bookable,
    )


def get_space(conn: Connection, space_id: str) -> Space | None:
    row = conn.execute(select(spaces).where(spaces.c.id == space_id)).first()
    return None if row is None else _space(row)


def list_spaces(conn: Connection) -> list[Space]:
    return [_space(row) for row in conn.execute(select(spaces).order_by(spaces.c.id))]


def add_space(conn: Connection, space: Space) -> None:
    conn.execute(insert(spaces).values(**_space_values(space)))


def update_space(conn: Connection, space: Space) -> None:
    conn.execute(update(spaces).where(spaces.c.id == space.id).values(**_space_values(space)))


def remove_space(conn: Connection, space_id: str) -> bool:
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
    }


def get_person(conn: Connection, person_id: str) -> Person | None:
    row = conn.execute(select(people).where(people.c.id == person_id)).first()
    return None if row is None else Person(id=row.id, name=row.name)


def list_people(conn: Connection) -> list[Person]:
    return [
        Person(id=r.id, name=r.name) for r in conn.execute(select(people).order_by(people.c.id))
    ]


def add_person(conn: Connection, person: Person) -> None:
    conn.execute(insert(people).values(id=person.id, name=person.name))


def remove_person(conn: Connection, person_id: str) -> bool:
    return conn.execute(delete(people).where(people.c.id == person_id)).rowcount > 0
