"""The stand-in's own state, in demo databases only: faults, the request journal, and the
snapshot that a reset restores.

These tables are not part of the product schema and have no migration: ``roomline demo``
drops and creates them on every start (``create_tables``), because the faults and the
journal of an earlier run mean nothing to this one, and the snapshot is retaken anyway.
They live in the demo's database because that is what every worker process of the demo
already shares (a fault for two requests fires twice, not twice per worker).

The snapshot holds a copy of every product table (``standin_snapshot_<name>``) except
``instance_secrets``, which the stored key hashes depend on and which never changes, plus
the tables' id counters (SQLite's ``sqlite_sequence``, PostgreSQL's sequences), so that a
reset brings numbering back too: the next reservation gets the same UltimoId again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from roomline.storage.database import Database
from roomline.storage.tables import metadata as product_metadata

JOURNAL_LIMIT = 1000
NOT_RESET = frozenset({"instance_secrets"})

standin_metadata = MetaData()

faults = Table(
    "standin_faults",
    standin_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(64), nullable=False),  # a workflow name, or "*"
    # The fault as given (JSON): status, body, retry_after, delay_ms, drop, times, match.
    Column("spec", Text, nullable=False),
    Column("times", Integer, nullable=True),  # NULL: until removed
    Column("fired", Integer, nullable=False, default=0),
)

journal = Table(
    "standin_requests",
    standin_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(255), nullable=False),
    Column("entry", Text, nullable=False),  # JSON: what GET /api/demo/requests lists
)

# One row: how often the demo was reset, so a request held back by a delay can tell that
# a reset happened meanwhile (and then goes unanswered instead of acting after it).
resets = Table(
    "standin_resets",
    standin_metadata,
    Column("id", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
)

# The id counter of each product table (name, next value's predecessor, PostgreSQL's
# is_called), as they were at the snapshot.
sequences = Table(
    "standin_snapshot_sequences",
    standin_metadata,
    Column("table_name", String(255), nullable=False),
    Column("last_value", BigInteger, nullable=False),
    Column("is_called", Boolean, nullable=False),
)


def _snapshot_tables() -> list[tuple[Table, Table]]:
    pairs = []
    for table in product_metadata.sorted_tables:
        if table.name in NOT_RESET:
            continue
        copy = Table(
            f"standin_snapshot_{table.name}",
            standin_metadata,
            *(Column(column.name, column.type) for column in table.columns),
        )
        pairs.append((table, copy))
    return pairs


SNAPSHOTS = _snapshot_tables()


def create_tables(database: Database) -> None:
    """Drop and create the stand-in's tables: no faults, an empty journal, no snapshot."""
    standin_metadata.drop_all(database.engine)
    standin_metadata.create_all(database.engine)
    with database.write() as conn:
        conn.execute(insert(resets).values(id=1, count=0))


# --- snapshot and reset ------------------------------------------------------------


def take_snapshot(conn: Connection) -> None:
    """Copy every product table and its id counter into the snapshot tables."""
    for table, copy in SNAPSHOTS:
        conn.execute(delete(copy))
        conn.execute(insert(copy).from_select(list(copy.c.keys()), select(*table.c)))
    conn.execute(delete(sequences))
    rows = _read_counters(conn)
    if rows:
        conn.execute(insert(sequences), rows)


def restore_snapshot(conn: Connection) -> None:
    """Bring every product table and id counter back to the snapshot; empty the journal
    and remove every fault."""
    for table, _copy in reversed(SNAPSHOTS):
        conn.execute(delete(table))
    for table, copy in SNAPSHOTS:
        conn.execute(insert(table).from_select(list(table.c.keys()), select(*copy.c)))
    counters = [dict(row._mapping) for row in conn.execute(select(sequences))]
    _write_counters(conn, counters)
    conn.execute(delete(faults))
    conn.execute(delete(journal))
    conn.execute(update(resets).values(count=resets.c.count + 1))


def reset_count(conn: Connection) -> int:
    return int(conn.execute(select(resets.c.count)).scalar_one())


def _counted_tables() -> list[tuple[str, str]]:
    """(table, column) of every single-column integer primary key."""
    found = []
    for table, _copy in SNAPSHOTS:
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and keys[0].type.python_type is int:
            found.append((table.name, keys[0].name))
    return found


def _read_counters(conn: Connection) -> list[dict[str, Any]]:
    if conn.dialect.name == "sqlite":
        names = [name for name, _column in _counted_tables()]
        rows = conn.execute(text("SELECT name, seq FROM sqlite_sequence")).all()
        return [
            {"table_name": name, "last_value": seq, "is_called": True}
            for name, seq in rows
            if name in names
        ]
    counters = []
    for name, column in _counted_tables():
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": name, "column": column},
        ).scalar_one()
        if sequence is None:
            continue
        # The name comes from PostgreSQL itself, already quoted where needed.
        last_value, is_called = conn.execute(
            text(f"SELECT last_value, is_called FROM {sequence}")
        ).one()
        counters.append({"table_name": name, "last_value": last_value, "is_called": is_called})
    return counters


def _write_counters(conn: Connection, counters: Sequence[dict[str, Any]]) -> None:
    if conn.dialect.name == "sqlite":
        names = [name for name, _column in _counted_tables()]
        for name in names:
            conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :name"), {"name": name})
        for counter in counters:
            conn.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
                {"name": counter["table_name"], "seq": counter["last_value"]},
            )
        return
    columns = dict(_counted_tables())
    for counter in counters:
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, :column), :value, :called)"),
            {
                "table": counter["table_name"],
                "column": columns[counter["table_name"]],
                "value": counter["last_value"],
                "called": counter["is_called"],
            },
        )


# --- faults --------------------------------------------------------------------------


def add_fault(conn: Connection, workflow: str, spec: dict[str, Any], times: int | None) -> int:
    result = conn.execute(
        insert(faults).values(workflow=workflow, spec=json.dumps(spec), times=times, fired=0)
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def list_faults(conn: Connection) -> list[tuple[int, str, dict[str, Any], int | None, int]]:
    """Every fault as (id, workflow, spec, times, fired), oldest first."""
    rows = conn.execute(select(faults).order_by(faults.c.id))
    return [(row.id, row.workflow, json.loads(row.spec), row.times, row.fired) for row in rows]


def armed_faults(
    conn: Connection, workflow: str
) -> list[tuple[int, str, dict[str, Any], int | None, int]]:
    """The faults for ``workflow`` (or ``*``) that may still fire, oldest first."""
    rows = conn.execute(
        select(faults)
        .where(faults.c.workflow.in_((workflow, "*")))
        .where(or_(faults.c.times.is_(None), faults.c.fired < faults.c.times))
        .order_by(faults.c.id)
    )
    return [(row.id, row.workflow, json.loads(row.spec), row.times, row.fired) for row in rows]


def claim_fault(conn: Connection, fault_id: int) -> bool:
    """Count one firing of the fault if it may still fire; return whether it did.

    One conditional UPDATE, so two workers never both take a fault's last firing: on
    SQLite the write lock orders them, on PostgreSQL the second re-reads the row after
    the first commits and no longer matches.
    """
    result = conn.execute(
        update(faults)
        .where(faults.c.id == fault_id)
        .where(or_(faults.c.times.is_(None), faults.c.fired < faults.c.times))
        .values(fired=faults.c.fired + 1)
    )
    return result.rowcount == 1


def remove_fault(conn: Connection, fault_id: int) -> bool:
    return conn.execute(delete(faults).where(faults.c.id == fault_id)).rowcount == 1


def remove_all_faults(conn: Connection) -> None:
    conn.execute(delete(faults))


# --- the request journal -------------------------------------------------------------


def record(conn: Connection, workflow: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the journal, dropping the oldest beyond ``JOURNAL_LIMIT``."""
    result = conn.execute(insert(journal).values(workflow=workflow, entry=json.dumps(entry)))
    entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(delete(journal).where(journal.c.id <= entry_id - JOURNAL_LIMIT))


def entries(conn: Connection, workflow: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries (of ``workflow``, if given), oldest first."""
    query = select(journal.c.id, journal.c.entry).order_by(journal.c.id.desc()).limit(limit)
    if workflow is not None:
        query = query.where(func.lower(journal.c.workflow) == workflow.lower())
    found = [{"id": row.id, **json.loads(row.entry)} for row in conn.execute(query)]
    found.reverse()
    return found


def clear_journal(conn: Connection) -> None:
    conn.execute(delete(journal))
