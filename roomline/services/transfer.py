"""Import and export files: CSV or JSON records, each remembering the line it came from.

Imports are all-or-nothing (``import_records``): every row is checked before anything is
written, all problems are reported with their line numbers, and the rows are then written
in one transaction. New ids are added; for stored ids the fields a row gives are
changed, so an exported file can be edited and imported again, and a file of a few
columns updates just those.

CSV has a header row naming the fields (``,`` or ``;`` separated, as spreadsheets write
it, an optional UTF-8 byte order mark); JSON is an array of objects.

A CSV file is meant to be opened in a spreadsheet, which runs a cell beginning with
``=``, ``+``, ``-``, ``@``, tab or carriage return as a formula (CSV injection). So a
text cell beginning with one of them, after any number of single quotes, is written
with one more single quote in front, as OWASP advises, and reading takes exactly one
such quote off again: every text reads back as it was written. Only text is quoted:
numbers and flags are written by roomline itself and never are.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table

from roomline.domain.errors import ImportRejected, InvalidParameter, RoomlineError
from roomline.storage import masterdata
from roomline.storage.database import Database

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (rows written so far, rows in all)

CHUNK = 500
MAX_REPORTED_PROBLEMS = 20


class FileFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    updated: int


def format_named(name: str | None, filename: str | None = None) -> FileFormat:
    """Choose the format: ``name`` if given, else from ``filename``'s extension."""
    if name is None and filename is not None and "." in filename:
        name = filename.rsplit(".", 1)[1]
    if name is None:
        raise InvalidParameter("Say which format the file has: csv or json.")
    try:
        return FileFormat(name.strip().lower())
    except ValueError as exc:
        raise InvalidParameter(f"Unknown file format {name!r}; use csv or json.") from exc


def read_records(text: str, file_format: FileFormat) -> list[Record]:
    """Read ``text`` into records; a file that cannot be read is ImportRejected."""
    text = text.removeprefix("\ufeff")
    if file_format is FileFormat.CSV:
        return _read_csv(text)
    return _read_json(text)


def write_records(rows: Sequence[Mapping[str, Any]], fields: Sequence[str], fmt: FileFormat) -> str:
    """Write ``rows`` in ``fmt``; CSV leaves None empty, writes booleans as true/false and
    lists joined by commas."""
    if fmt is FileFormat.JSON:
        items = ",\n".join(
            "  " + json.dumps({name: row[name] for name in fields}, ensure_ascii=False)
            for row in rows
        )
        return f"[\n{items}\n]\n" if rows else "[]\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_cell(row[name]) for name in fields])
    return out.getvalue()


def import_records(
    database: Database,
    table: Table,
    records: Sequence[Record],
    build: Callable[[Mapping[str, Any]], T],
    values_of: Callable[[T], dict[str, Any]],
    progress: Progress | None = None,
) -> ImportResult:
    """Check every record with ``build``, then add or update them all in one transaction.

    A record for a stored id changes only the fields it gives, so a file with just
    ``id,capacity`` updates capacities and leaves the rest alone.
    """
    with database.write() as conn:
        stored = masterdata.stored_values(conn, table, _ids(records))
        built = _checked(records, stored, build, values_of)
        total, done = len(built), 0
        for start in range(0, total, CHUNK):
            chunk = built[start : start + CHUNK]
            masterdata.add_many(conn, table, [row for row in chunk if row["id"] not in stored])
            masterdata.update_many(conn, table, [row for row in chunk if row["id"] in stored])
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        # In the same transaction: PostgreSQL's ANALYZE counts the rows it inserted.
        masterdata.refresh_statistics(conn, table)
    updated = sum(1 for row in built if row["id"] in stored)
    return ImportResult(added=total - updated, updated=updated)


def _ids(records: Sequence[Record]) -> list[str]:
    ids = (record.values.get("id") for record in records)
    return [value.strip() for value in ids if isinstance(value, str) and value.strip()]


def _checked(
    records: Sequence[Record],
    stored: Mapping[str, dict[str, Any]],
    build: Callable[[Mapping[str, Any]], T],
    values_of: Callable[[T], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return every record's values, merged over what is stored; raise if any is bad."""
    problems: list[tuple[int, str]] = []
    built: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for record in records:
        given = record.values.get("id")
        base = stored.get(given.strip()) if isinstance(given, str) else None
        try:
            values = values_of(build({**base, **record.values} if base else record.values))
        except RoomlineError as exc:
            problems.append((record.line, exc.message))
            continue
        if values["id"] in first_line:
            earlier = first_line[values["id"]]
            problems.append(
                (record.line, f"id {values['id']!r} already appears on line {earlier}.")
            )
            continue
        first_line[values["id"]] = record.line
        built.append(values)
    if problems:
        raise _rejected(problems)
    return built


def _rejected(problems: list[tuple[int, str]]) -> ImportRejected:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    lines = [f"line {line}: {reason}" for line, reason in shown]
    if len(problems) > len(shown):
        lines.append(f"... and {len(problems) - len(shown)} more.")
    rows = "1 row is" if len(problems) == 1 else f"{len(problems)} rows are"
    return ImportRejected(
        f"Nothing was imported: {rows} invalid.\n" + "\n".join(lines), problems=problems
    )


# A text a spreadsheet would run as a formula, possibly behind quotes added before.
_FORMULA_LIKE = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):  # a space's features: tags joined by commas
        value = ",".join(str(item) for item in value)
    if isinstance(value, str) and _FORMULA_LIKE.match(value):
        return "'" + value
    return str(value)


def _csv_text(cell: str) -> str:
    """Undo ``_csv_cell``'s quote before a formula-like text."""
    return cell[1:] if _NEUTRALISED.match(cell) else cell


def _read_csv(text: str) -> list[Record]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1  # where the row being read starts, for messages
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ImportRejected(
                "Nothing was imported: the file has no header row naming the fields.",
                problems=[(1, "no header row")],
            )
        fields = [cell.strip().lower() for cell in header]
        records: list[Record] = []
        line = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                if len(row) != len(fields):
                    raise _rejected(
                        [(line, f"the row has {len(row)} fields, the header {len(fields)}.")]
                    )
                cells = [_csv_text(cell) for cell in row]
                records.append(Record(line, dict(zip(fields, cells, strict=True))))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _rejected([(line, f"not readable as CSV: {exc}.")]) from exc
    return records


def _read_json(text: str) -> list[Record]:
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if index >= len(text) or text[index] != "[":
        raise _rejected([(_line_of(text, index), "the file must hold a JSON array of objects.")])
    index = _skip_space(text, index + 1)
    records: list[Record] = []
    line, counted_to = 1, 0
    while index < len(text) and text[index] != "]":
        line += text.count("\n", counted_to, index)
        counted_to = index
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise _rejected([(exc.lineno, f"not valid JSON: {exc.msg}.")]) from exc
        except ValueError as exc:  # the only other refusal: int() of a very long number
            limit = sys.get_int_max_str_digits()
            raise _rejected([(line, f"a number has more than {limit} digits.")]) from exc
        except RecursionError as exc:  # arrays or objects nested too deep for the parser
            raise _rejected([(line, "not readable: nested too deeply.")]) from exc
        if not isinstance(value, dict):
            raise _rejected([(line, "each item must be a JSON object of fields.")])
        records.append(Record(line, {str(key).lower(): item for key, item in value.items()}))
        index = _skip_space(text, index)
        if index < len(text) and text[index] == ",":
            index = _skip_space(text, index + 1)
        elif index >= len(text) or text[index] != "]":
            raise _rejected([(_line_of(text, index), "expected ',' or ']' after an item.")])
    if index >= len(text):
        raise _rejected([(_line_of(text, index), "the JSON array is not closed with ']'.")])
    if text[index + 1 :].strip():
        raise _rejected([(_line_of(text, index + 1), "unexpected text after the JSON array.")])
    return records


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1
