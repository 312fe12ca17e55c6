"""Managing people (applicants): the use cases behind ``roomline people`` and the API.

A person that reservations name cannot be removed: the reservations keep their applicant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomline.domain.masterdata import PERSON_FIELDS, person_from_values, person_values
from roomline.domain.reservations import Person
from roomline.services.records import RecordKind
from roomline.services.transfer import FileFormat, ImportResult, Progress, Record
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.tables import people

FIELDS = PERSON_FIELDS

PEOPLE: RecordKind[Person] = RecordKind(
    table=people,
    fields=PERSON_FIELDS,
    from_values=person_from_values,
    values=person_values,
    get=masterdata.get_person,
    listing=masterdata.list_people,
    add=masterdata.add_person,
    update=masterdata.update_person,
    remove=masterdata.remove_person,
    referring_column="applicant_id",
    not_found="There is no person {id!r}.",
    already_exists="Person {id!r} already exists; update them instead.",
    id_is_fixed="A person's id cannot change: reservations and clients know them by that id.",
    still_referenced=(
        "Person {id!r} cannot be removed: {total} reservation(s) name them as applicant "
        "({active} active)."
    ),
)


def list_people(database: Database) -> list[Person]:
    """Return every person, ordered by id."""
    return PEOPLE.list_all(database)


def get_person(database: Database, person_id: str) -> Person:
    """Return the person ``person_id``, or raise RecordNotFound."""
    return PEOPLE.read(database, person_id)


def add_person(database: Database, values: Mapping[str, Any]) -> Person:
    """Add a person; the id must be new."""
    return PEOPLE.create(database, values)


def update_person(database: Database, person_id: str, changes: Mapping[str, Any]) -> Person:
    """Change a person's name (not their id); return the result."""
    return PEOPLE.change(database, person_id, changes)


def remove_person(database: Database, person_id: str) -> None:
    """Remove a person that no reservation names."""
    PEOPLE.delete(database, person_id)


def import_people(
    database: Database, records: list[Record], progress: Progress | None = None
) -> ImportResult:
    """Add or update every person in ``records``, or none if any row is invalid."""
    return PEOPLE.import_all(database, records, progress)


def export_people(database: Database, file_format: FileFormat) -> str:
    """Return every person as a CSV or JSON file that ``import_people`` reads back."""
    return PEOPLE.export_all(database, file_format)
