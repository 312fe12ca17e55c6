"""Managing spaces: the use cases behind ``roomline spaces`` and ``/api/manage/spaces``.

A space that reservations name (active or cancelled: they keep their history) cannot be
removed; make it unbookable instead. Preparation and cleanup changes apply to
reservations made or moved afterwards, since reservations snapshot them (SPEC §4).
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
from roomline.domain.masterdata import SPACE_FIELDS, identifier, space_from_values, space_values
from roomline.domain.reservations import Space
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
from roomline.storage.tables import spaces

FIELDS = SPACE_FIELDS


def list_spaces(database: Database) -> list[Space]:
    """Return every space, ordered by id."""
    with database.read() as conn:
        return masterdata.list_spaces(conn)


def get_space(database: Database, space_id: str) -> Space:
    """Return the space ``space_id``, or raise RecordNotFound."""
    with database.read() as conn:
        return _existing(conn, space_id)


def add_space(database: Database, values: Mapping[str, Any]) -> Space:
    """Add a space; its id must be new."""
    space = space_from_values(values)
    with database.write() as conn:
        if masterdata.get_space(conn, space.id) is not None:
            raise AlreadyExists(f"Space {space.id!r} already exists; update it instead.")
        masterdata.add_space(conn, space)
    return space


def update_space(database: Database, space_id: str, changes: Mapping[str, Any]) -> Space:
    """Change the given fields of a space (not its id); return the result."""
    space_id = identifier(space_id, "id")
    with database.write() as conn:
        current = _existing(conn, space_id)
        merged = {**space_values(current), **changes}
        if identifier(merged["id"], "id") != space_id:
            raise InvalidParameter(
                "A space's id cannot change: reservations and clients know it by that id."
            )
        space = space_from_values(merged)
        masterdata.update_space(conn, space)
    return space


def remove_space(database: Database, space_id: str) -> None:
    """Remove a space that no reservation names."""
    with database.write() as conn:
        _existing(conn, space_id)
        total, active = masterdata.reservation_counts(conn, "space_id", space_id)
        if total:
            raise StillReferenced(
                f"Space {space_id!r} cannot be removed: {total} reservation(s) name it "
                f"({active} active). Mark it not bookable instead."
            )
        masterdata.remove_space(conn, space_id)


def import_spaces(
    database: Database, records: list[Record], progress: Progress | None = None
) -> ImportResult:
    """Add or update every space in ``records``, or none if any row is invalid."""
    return import_records(database, spaces, records, space_from_values, space_values, progress)


def export_spaces(database: Database, file_format: FileFormat) -> str:
    """Return every space as a CSV or JSON file that ``import_spaces`` reads back."""
    return write_records([space_values(s) for s in list_spaces(database)], FIELDS, file_format)


def _existing(conn: Connection, space_id: str) -> Space:
    space = masterdata.get_space(conn, space_id)
    if space is None:
        raise RecordNotFound(f"There is no space {space_id!r}.")
    return space
