"""Prebuilt statements that run past SQLAlchemy's execution layer on SQLite.

Through ``Connection.execute`` each statement of a request costs far more Python than
SQLite spends answering it: about 100,000 instructions for the result machinery,
parameter processing and events, against a few thousand for an indexed lookup. The
statements every Ultimo request runs are therefore compiled once for ``sqlite3`` and
executed on the driver connection underneath the caller's SQLAlchemy connection (so in
its transaction), with values converted by the columns' own SQLAlchemy types: what is
stored and what comes back are exactly what ``Connection.execute`` would store and return.
On PostgreSQL the same statement runs through ``Connection.execute`` in a thread, or,
compiled once more for asyncpg (``on_postgresql``), on the event loop (``pg_hot``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal

from roomline.domain.times import utc_text
from roomline.storage.tables import UTCDateTime

_SQLITE = sqlite.dialect(paramstyle="named")
# asyncpg's own ($1, $2 …), with the processors SQLAlchemy's asyncpg dialect would run.
_POSTGRESQL = asyncpg_dialect()
# The statements may use RETURNING, which SQLite has since 3.35; older ones go through
# SQLAlchemy, which knows what they support.
_DIRECT = sqlite3.sqlite_version_info >= (3, 35, 0)

Values = dict[str, Any]
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
T = TypeVar("T")


class Reads(Protocol):
    """Where prebuilt reads run: in the caller's transaction (``hotpath.SqlHotPath``) or
    on the event loop (``pg_hot.PgHotPath``)."""

    async def rows(self, statement: DirectStatement, values: Values) -> list[Any]:
        """Every row the statement answers, with the columns as attributes."""
        ...

    async def rows_each(
        self, statement: DirectStatement, each: Sequence[Values]
    ) -> list[list[Any]]:
        """``rows`` for each of ``each``, in its order; at once where the database can
        answer several (PostgreSQL, one pooled connection each)."""
        ...


class Writes(Reads, Protocol):
    """Where prebuilt writes run, all in one transaction: the caller's (``OnConnection``)
    or one on the event loop (``pg_hot.PgTransaction``)."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: some statements (advisory locks) are one's only."""
        ...

    async def write(self, statement: DirectStatement, values: Values) -> Any:
        """Run an INSERT or UPDATE; return the value it RETURNS, if it has a RETURNING."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        """A block whose statements are undone alone when it raises, leaving the
        transaction usable (PostgreSQL; SQLite's single writer needs none)."""
        ...


def integrity_error(exc: BaseException) -> Any | None:
    """The driver's constraint violation behind ``exc`` (sqlite3's, or psycopg's inside
    SQLAlchemy's wrapper, or asyncpg's: SQLSTATE class 23), or None for anything else."""
    if isinstance(exc, IntegrityError):
        return exc.orig
    if isinstance(exc, sqlite3.IntegrityError):
        return exc
    if str(getattr(exc, "sqlstate", "")).startswith("23"):
        return exc
    return None


class JsonItems(ColumnElement[Any]):
    """The strings of a JSON array passed as one value, as a subquery for ``IN``: a list
    of any length in a statement compiled once (an ``IN (...)`` of separate values is
    compiled anew for each length, and prebuilt statements are compiled once)."""

    inherit_cache = True
    # SQLAlchemy's own convention (a list on the class), which its cache key reads.
    _traverse_internals = [("values", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, values: BindParameter[Any]) -> None:
        self.values = values


@compiles(JsonItems, "sqlite")
def _json_items_sqlite(element: JsonItems, compiler: Any, **kw: Any) -> str:
    return f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))"


@compiles(JsonItems, "postgresql")
def _json_items_postgresql(element: JsonItems, compiler: Any, **kw: Any) -> str:
    values = compiler.process(element.values, **kw)
    return f"(SELECT json_array_elements_text(CAST({values} AS json)))"


def in_json_list(column: Any, name: str) -> Any:
    """``column IN`` the strings of the JSON array passed as the value ``name``
    (``json_list``)."""
    return column.op("IN", is_comparison=True)(JsonItems(bindparam(name)))


def json_list(items: Iterable[str]) -> str:
    """The value for ``in_json_list``."""
    return json.dumps(sorted(items))


class _JsonElements(FunctionElement[Any]):
    """The elements of a JSON array passed as one value, a row each (column ``value``)."""

    name = "json_elements"
    inherit_cache = True


@compiles(_JsonElements, "sqlite")
def _json_elements_sqlite(element: _JsonElements, compiler: Any, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(_JsonElements, "postgresql")
def _json_elements_postgresql(element: _JsonElements, compiler: Any, **kw: Any) -> str:
    return f"json_array_elements(CAST({compiler.process(element.clauses, **kw)} AS json))"


class _JsonField(ColumnElement[Any]):
    """One field of a JSON object, as the SQL value of a column of type ``type``."""

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012
        ("record", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
        ("type", InternalTraversal.dp_type),
    ]

    def __init__(self, record: ColumnElement[Any], key: str, type_: TypeEngine[Any]) -> None:
        if not _IDENTIFIER.fullmatch(key):
            raise ValueError(f"not a column name: {key!r}")
        self.record = record
        self.key = key
        self.type = type_

    @property
    def _from_objects(self) -> list[Any]:
        # What a SELECT of it reads from: the records' source (SQLAlchemy's own protocol).
        return self.record._from_objects


@compiles(_JsonField, "sqlite")
def _json_field_sqlite(element: _JsonField, compiler: Any, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.record, **kw)}, '$.{element.key}')"


@compiles(_JsonField, "postgresql")
def _json_field_postgresql(element: _JsonField, compiler: Any, **kw: Any) -> str:
    text = f"({compiler.process(element.record, **kw)} ->> '{element.key}')"
    if isinstance(element.type, UTCDateTime):
        # The value is SQLite's stored form, UTC without an offset (``times.utc_text``).
        return f"(CAST({text} AS TIMESTAMP WITHOUT TIME ZONE) AT TIME ZONE 'UTC')"
    sql_type = compiler.dialect.type_compiler_instance.process(element.type)
    return f"CAST({text} AS {sql_type})"


class JsonRecords:
    """Rows passed as one JSON array of objects (the value ``name``), to select from in a
    statement compiled once: hundreds of rows in one INSERT … SELECT. On PostgreSQL that
    is one statement where an executemany is one for each row; on SQLite it costs about
    what an executemany does (the row's JSON is parsed for each field it reads).

    ``columns`` names each field's column type: ``fields`` are the SQL values to select,
    and ``value`` encodes rows so that what is stored is exactly what binding the same
    values stores (times as SQLite's UTC text, read back as UTC on PostgreSQL)."""

    def __init__(self, name: str, columns: dict[str, TypeEngine[Any]]) -> None:
        self.source = _JsonElements(bindparam(name)).table_valued("value").alias(f"{name}_rows")
        self.fields = {
            key: _JsonField(self.source.c.value, key, type_) for key, type_ in columns.items()
        }
        self._encode = {
            key: _bind_processor(bindparam(key, type_=type_)) for key, type_ in columns.items()
        }

    def value(self, rows: Iterable[Values]) -> str:
        """The JSON array for ``rows`` (each with every field, by name)."""
        return json.dumps(
            [self._encoded(row) for row in rows], ensure_ascii=False, separators=(",", ":")
        )

    def _encoded(self, row: Values) -> Values:
        encoded = {}
        for key, process in self._encode.items():
            value = row[key]
            encoded[key] = value if process is None or value is None else process(value)
        return encoded


def drive(use_case: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (one over ``OnConnection`` or
    ``hotpath.SqlHotPath``) to its end, here."""
    try:
        use_case.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    use_case.close()
    raise RuntimeError("a use case over SqlHotPath waited for something")


class OnConnection:
    """``Reads`` and ``Writes`` in the caller's transaction, on its SQLAlchemy or sqlite3
    connection (a coroutine over it never suspends: ``drive`` runs it to its end)."""

    def __init__(self, conn: Connection | sqlite3.Connection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        conn = self.conn
        return "sqlite" if isinstance(conn, sqlite3.Connection) else conn.dialect.name

    async def write(self, statement: DirectStatement, values: Values) -> Any:
        return statement.write(self.conn, values)  # type: ignore[arg-type]

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        conn = self.conn
        if isinstance(conn, sqlite3.Connection) or conn.dialect.name == "sqlite":
            return _NO_SAVEPOINT  # a generator-based context cost each Create 2 % more
        return _savepoint(conn)

    async def rows(self, statement: DirectStatement, values: Values) -> list[Any]:
        return statement.all(self.conn, values)

    async def rows_each(
        self, statement: DirectStatement, each: Sequence[Values]
    ) -> list[list[Any]]:
        return [statement.all(self.conn, values) for values in each]


class _NoSavepoint:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *raised: object) -> None:
        return None


_NO_SAVEPOINT = _NoSavepoint()


@asynccontextmanager
async def _savepoint(conn: Connection) -> AsyncIterator[None]:
    nested = conn.begin_nested()
    try:
        yield
    except BaseException:
        nested.rollback()
        raise
    nested.commit()


class DirectStatement:
    """One Core statement, compiled once for ``sqlite3`` (and, when first asked, for
    asyncpg: ``on_postgresql``).

    ``column_keys`` names the columns an INSERT or UPDATE sets (each a parameter of that
    name). ``stored_form=True`` returns rows on SQLite as it stores them (times as UTC
    text, ``times.utc_text``), skipping the types' conversions: cheaper for many rows.
    """

    def __init__(
        self,
        statement: Executable,
        *,
        column_keys: Sequence[str] | None = None,
        stored_form: bool = False,
    ) -> None:
        self.statement = statement
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_SQLITE, column_keys=list(column_keys) if column_keys else None
        )
        self.sql = str(compiled)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self._binds: dict[str, Callable[[Any], Any] | None] = {
            name: _bind_processor(bind) for name, bind in binds.items()
        }
        # Literals in the statement (such as status = 'Processed') are parameters too.
        self._fixed = {
            name: self._bound(name, bind.effective_value)
            for name, bind in binds.items()
            if not bind.required
        }
        columns = list(getattr(statement, "selected_columns", ()))
        self._results = [
            column.type.dialect_impl(_SQLITE).result_processor(_SQLITE, None) for column in columns
        ]
        self._row: Any = namedtuple("_Row", [column.key for column in columns])  # type: ignore[misc]
        self._convert = not stored_form and bool(columns)
        self._returns = bool(compiled.returning)
        self._column_keys = column_keys

    @property
    def returns(self) -> bool:
        """Whether the statement has a RETURNING (``write`` answers its value)."""
        return self._returns

    @cached_property
    def on_postgresql(self) -> PostgresqlForm:
        """The statement as asyncpg runs it."""
        return PostgresqlForm(self.statement, self._column_keys, self._row)

    @property
    def literals(self) -> Values:
        """The statement's literal values, as parameters: ``sql`` needs them beside the caller's."""
        return dict(self._fixed)

    def all(self, conn: Connection | sqlite3.Connection, values: Values) -> list[Any]:
        """Return every row (rows have the columns as attributes)."""
        raw = _sqlite(conn)
        if raw is None:
            return list(conn.execute(self.statement, values))  # type: ignore[union-attr,arg-type]
        found = self._run(raw, values).fetchall()
        return [self._converted(row) for row in found] if self._convert else found

    def first(self, conn: Connection | sqlite3.Connection, values: Values) -> Any | None:
        """Return the first row, or None."""
        raw = _sqlite(conn)
        if raw is None:
            return conn.execute(self.statement, values).first()  # type: ignore[union-attr,arg-type]
        row = self._run(raw, values).fetchone()
        if row is None or not self._convert:
            return row
        return self._converted(row)

    def scalar(self, conn: Connection, values: Values) -> Any:
        """Return the first column of the first row, or None."""
        row = self.first(conn, values)
        return None if row is None else row[0]

    def write(self, conn: Connection, values: Values) -> Any:
        """Run an INSERT or UPDATE; return the value it RETURNS, if it has a RETURNING."""
        raw = _sqlite(conn)
        if raw is None:
            result = conn.execute(self.statement, values)
            return result.scalar_one() if self._returns else None
        cursor = self._run(raw, values)
        if not self._returns:
            return None
        returned = cursor.fetchall()  # the statement completes only once they are read
        return returned[0][0]

    def _run(self, raw: sqlite3.Connection, values: Values) -> sqlite3.Cursor:
        return raw.execute(self.sql, self._parameters(values))

    def _parameters(self, values: Values) -> Values:
        parameters = dict(self._fixed)
        for name, value in values.items():
            parameters[name] = self._bound(name, value)
        return parameters

    def _bound(self, name: str, value: Any) -> Any:
        process = self._binds[name]
        return value if process is None or value is None else process(value)

    def _converted(self, row: tuple[Any, ...]) -> Any:
        return self._row._make(
            value if process is None or value is None else process(value)
            for process, value in zip(self._results, row, strict=True)
        )


class PostgresqlForm:
    """A ``DirectStatement`` compiled for asyncpg: its parameters in ``$n`` order, converted
    by the columns' types as SQLAlchemy's asyncpg dialect would, and rows converted back
    and named as on SQLite."""

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None, row: Any):
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_POSTGRESQL, column_keys=list(column_keys) if column_keys else None
        )
        if compiled.post_compile_params:
            raise ValueError("expanding parameters (IN lists) cannot be compiled once")
        self.sql = str(compiled)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        processors = {
            name: bind.type.dialect_impl(_POSTGRESQL).bind_processor(_POSTGRESQL)
            for name, bind in binds.items()
        }
        # (name, its processor, and for a literal its value; a parameter's is the caller's)
        self._order = [
            (name, processors[name], binds[name].required, binds[name].effective_value)
            for name in compiled.positiontup
        ]
        columns = list(getattr(statement, "selected_columns", ()))
        self._results = [
            column.type.dialect_impl(_POSTGRESQL).result_processor(_POSTGRESQL, None)
            for column in columns
        ]
        self._row = row

    def arguments(self, values: Values) -> list[Any]:
        """The statement's arguments in order, from ``values`` by name (and its literals)."""
        arguments = []
        for name, process, required, literal in self._order:
            value = values[name] if required else values.get(name, literal)
            arguments.append(value if process is None or value is None else process(value))
        return arguments

    def rows(self, records: Sequence[Sequence[Any]]) -> list[Any]:
        """asyncpg's records as rows with the columns as attributes."""
        results = self._results
        return [
            self._row._make(
                value if process is None or value is None else process(value)
                for process, value in zip(results, record, strict=True)
            )
            for record in records
        ]


def _bind_processor(bind: BindParameter[Any]) -> Callable[[Any], Any] | None:
    if isinstance(bind.type, UTCDateTime):
        return _stored_utc_text
    return bind.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)


def _stored_utc_text(value: datetime) -> str:
    """``UTCDateTime`` and SQLite's ``DATETIME`` processors in one step (a write binds
    about ten times; through both layers that was a tenth of a Create's Python)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are never stored")
    return utc_text(value)


def _sqlite(conn: Connection | sqlite3.Connection) -> sqlite3.Connection | None:
    """The sqlite3 connection to run on, or None to go through SQLAlchemy."""
    if isinstance(conn, sqlite3.Connection):
        return conn
    if conn.dialect.name != "sqlite" or not _DIRECT:
        return None
    return conn.connection.driver_connection  # type: ignore[return-value]
