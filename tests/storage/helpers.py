"""Set-up shared by the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

from roomline.domain.reservations import Person, Space
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade


def database_with(url: str, space: Space, person: Person) -> Iterator[Database]:
    """Yield a migrated database at ``url`` holding ``space`` and ``person``; dispose after."""
    database = Database(url)
    upgrade(database)
    with database.write() as conn:
        masterdata.add_space(conn, space)
        masterdata.add_person(conn, person)
    yield database
    database.dispose()
