"""The master-data use cases, written once for every kind of record (spaces, people).

A kind names its storage functions, its import/export mapping, the reservation column
that refers to it, and its messages; the use cases are the same for all kinds. A record
that reservations name (active or cancelled: they keep their history) cannot be removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Table

from roomline.domain.errors import AlreadyExists, InvalidParameter, RecordNotFound, StillReferenced
from roomline.domain.masterdata import identifier
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


class HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=HasId)


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """One kind of master data, and the words used about it.

    Message templates are ``str.format`` strings over ``id``, ``total`` and ``active``.
    """

    table: Table
    fields: tuple[str, ...]
    from_values: Callable[[Mapping[str, Any]], R]
    values: Callable[[R], dict[str, Any]]
    get: Callable[[Connection, str], R | None]
    listing: Callable[[Connection], list[R]]
    add: Callable[[Connection, R], None]
    update: Callable[[Connection, R], None]
    remove: Callable[[Connection, str], bool]
    referring_column: str
    not_found: str
    already_exists: str
    id_is_fixed: str
    still_referenced: str

    def list_all(self, database: Database) -> list[R]:
        with database.read() as conn:
            return self.listing(conn)

    def read(self, database: Database, record_id: str) -> R:
        with database.read() as conn:
            return self._existing(conn, record_id)

    def create(self, database: Database, values: Mapping[str, Any]) -> R:
        record = self.from_values(values)
        with database.write() as conn:
            if self.get(conn, record.id) is not None:
                raise AlreadyExists(self.already_exists.format(id=record.id))
            self.add(conn, record)
        return record

    def change(self, database: Database, record_id: str, changes: Mapping[str, Any]) -> R:
        record_id = identifier(record_id, "id")
        with database.write() as conn:
            merged = {**self.values(self._existing(conn, record_id)), **changes}
            if identifier(merged["id"], "id") != record_id:
                raise InvalidParameter(self.id_is_fixed)
            record = self.from_values(merged)
            self.update(conn, record)
        return record

    def delete(self, database: Database, record_id: str) -> None:
        with database.write() as conn:
            self._existing(conn, record_id)
            total, active = masterdata.reservation_counts(conn, self.referring_column, record_id)
            if total:
                raise StillReferenced(
                    self.still_referenced.format(id=record_id, total=total, active=active)
                )
            self.remove(conn, record_id)

    def import_all(
        self, database: Database, records: list[Record], progress: Progress | None
    ) -> ImportResult:
        return import_records(
            database, self.table, records, self.from_values, self.values, progress
        )

    def export_all(self, database: Database, file_format: FileFormat) -> str:
        return write_records(
            [self.values(r) for r in self.list_all(database)], self.fields, file_format
        )

    def _existing(self, conn: Connection, record_id: str) -> R:
        record = self.get(conn, record_id)
        if record is None:
            raise RecordNotFound(self.not_found.format(id=record_id))
        return record
