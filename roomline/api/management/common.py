"""What the management routes share: the database, and the body of an import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from roomline.domain.errors import InvalidBody, ServiceUnavailable
from roomline.services.transfer import FileFormat, Record, format_named, read_records
from roomline.storage.database import Database, DatabaseUnavailable

# An import may be larger than ROOMLINE_MAX_BODY_BYTES (``BodyLimit`` in api/guards.py
# applies this to the import paths): 100,000 spaces are about 8 MB of CSV.
MAX_IMPORT_BYTES = 64 * 1024 * 1024


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


@contextmanager
def database_errors() -> Iterator[None]:
    """Answer 503 (not 500) while the database does not answer."""
    try:
        yield
    except DatabaseUnavailable as exc:
        raise ServiceUnavailable("The database is busy or unreachable; retry shortly.") from exc


async def import_body(request: Request, format_name: str | None) -> list[Record]:
    """Read an import from the body: ``format`` if given, else from the Content-Type."""
    if format_name is None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        format_name = "csv" if content_type in ("text/csv", "application/csv") else "json"
    fmt = format_named(format_name)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidBody("The import is not UTF-8 text.") from exc
    return read_records(text, fmt)


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
FORMATS = tuple(fmt.value for fmt in FileFormat)
