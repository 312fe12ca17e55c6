"""Managing spaces: the use cases behind ``roomline spaces`` and ``/api/manage/spaces``.

A space that reservations name (active or cancelled: they keep their history) cannot be
removed; make it unbookable instead. Preparation and cleanup changes apply to
reservations made or moved afterwards, since reservations snapshot them (SPEC §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomline.domain.masterdata import SPACE_FIELDS, space_from_values, space_values
from roomline.domain.reservations import Space
from roomline.services.records import RecordKind
from roomline.services.transfer import FileFormat, ImportResult, Progress, Record
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.tables import spaces

FIELDS = SPACE_FIELDS

SPACES: RecordKind[Space] = RecordKind(
    table=spaces,
    fields=SPACE_FIELDS,
    from_values=space_from_values,
    values=space_values,
    get=masterdata.get_space,
    listing=masterdata.list_spaces,
    add=masterdata.add_space,
    update=masterdata.update_space,
    remove=masterdata.remove_space,
    referring_column="space_id",
    not_found="There is no space {id!r}.",
    already_exists="Space {id!r} already exists; update it instead.",
    id_is_fixed="A space's id cannot change: reservations and clients know it by that id.",
    still_referenced=(
        "Space {id!r} cannot be removed: {total} reservation(s) name it ({active} active). "
        "Mark it not bookable instead."
    ),
)


def list_spaces(database: Database) -> list[Space]:
    """Return every space, ordered by id."""
    return SPACES.list_all(database)


def get_space(database: Database, space_id: str) -> Space:
    """Return the space ``space_id``, or raise RecordNotFound."""
    return SPACES.read(database, space_id)


def add_space(database: Database, values: Mapping[str, Any]) -> Space:
    """Add a space; its id must be new."""
    return SPACES.create(database, values)


def update_space(database: Database, space_id: str, changes: Mapping[str, Any]) -> Space:
    """Change the given fields of a space (not its id); return the result."""
    return SPACES.change(database, space_id, changes)


def remove_space(database: Database, space_id: str) -> None:
    """Remove a space that no reservation names."""
    SPACES.delete(database, space_id)


def import_spaces(
    database: Database, records: list[Record], progress: Progress | None = None
) -> ImportResult:
    """Add or update every space in ``records``, or none if any row is invalid."""
    return SPACES.import_all(database, records, progress)


def export_spaces(database: Database, file_format: FileFormat) -> str:
    """Return every space as a CSV or JSON file that ``import_spaces`` reads back."""
    return SPACES.export_all(database, file_format)
