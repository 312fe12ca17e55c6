"""Managing people (applicants): the use cases behind ``roomline people`` and the API.

A person that reservations name cannot be removed: the reservations keep their applicant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from roomline.domain.errors import (
    AlreadyExists,
    InvalidParameter,
    RecordNotFound,
    StillReferenced,
)
from roomline.domain.masterdata import PERSON_FIELDS, identifier, person_from_values, person_values
from roomline.domain.reservations import Person
from roomline.services.transfer import (
    FileFormat,
    ImportResult,
    Progress,
    Record,
    import_records,
    write_records,
)
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.tables import people

FIELDS = PERSON_FIELDS


def list_people(database: Database) -> list[Person]:
    """Return every person, ordered by id."""
    with database.read() as conn:
        return masterdata.list_people(conn)


def get_person(database: Database, person_id: str) -> Person:
    """Return the person ``person_id``, or raise RecordNotFound."""
    with database.read() as conn:
        return _existing(conn, person_id)


def add_person(database: Database, values: Mapping[str, Any]) -> Person:
    """Add a person; the id must be new."""
    person = person_from_values(values)
    with database.write() as conn:
        if masterdata.get_person(conn, person.id) is not None:
            raise AlreadyExists(f"Person {person.id!r} already exists; update them instead.")
        masterdata.add_person(conn, person)
    return person


def update_person(database: Database, person_id: str, changes: Mapping[str, Any]) -> Person:
    """Change a person's name (not their id); return the result."""
    person_id = identifier(person_id, "id")
    with database.write() as conn:
        current = _existing(conn, person_id)
        merged = {**person_values(current), **changes}
        if identifier(merged["id"], "id") != person_id:
            raise InvalidParameter(
                "A person's id cannot change: reservations and clients know them by that id."
            )
        person = person_from_values(merged)
        masterdata.update_person(conn, person)
    return person


def remove_person(database: Database, person_id: str) -> None:
    """Remove a person that no reservation names."""
    with database.write() as conn:
        _existing(conn, person_id)
        total, active = masterdata.reservation_counts(conn, "applicant_id", person_id)
        if total:
            raise StillReferenced(
                f"Person {person_id!r} cannot be removed: {total} reservation(s) name them "
                f"as applicant ({active} active)."
            )
        masterdata.remove_person(conn, person_id)


def import_people(
    database: Database, records: list[Record], progress: Progress | None = None
) -> ImportResult:
    """Add or update every person in ``records``, or none if any row is invalid."""
    return import_records(database, people, records, person_from_values, person_values, progress)


def export_people(database: Database, file_format: FileFormat) -> str:
    """Return every person as a CSV or JSON file that ``import_people`` reads back."""
    return write_records([person_values(p) for p in list_people(database)], FIELDS, file_format)


def _existing(conn: Connection, person_id: str) -> Person:
    person = masterdata.get_person(conn, person_id)
    if person is None:
        raise RecordNotFound(f"There is no person {person_id!r}.")
    return person
