"""What a database holds, as plain values, for 'nothing changed' and integrity assertions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from roomline.storage.database import Database
from roomline.storage.tables import api_keys, people, reservations, spaces

# The master data and the reservations; audit and rate-limit tables record every request
# by design, so they are not part of "what a refused request must leave unchanged".
WATCHED = (reservations, spaces, people, api_keys)


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of the watched tables, in primary-key order."""
    with database.read() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in WATCHED
        }


def integrity_problems(database: Database) -> list[str]:
    """Return what is wrong with the stored data; empty when the store is consistent.

    SQLite: ``PRAGMA integrity_check`` and ``foreign_key_check``. Both databases: no two
    active reservations of a space overlap, end after start, the blocked interval is the
    reservation widened by its own snapshot of preparation and cleanup, and the next
    UltimoId lies above every one handed out (numbers are never reused).
    """
    problems: list[str] = []
    with database.read() as conn:
        if database.dialect == "sqlite":
            verdict = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
            if verdict != ["ok"]:
                problems.append(f"integrity_check: {verdict}")
            dangling = list(conn.exec_driver_sql("PRAGMA foreign_key_check"))
            if dangling:
                problems.append(f"foreign_key_check: {dangling}")
        overlapping = conn.execute(
            text(
                "SELECT a.ultimo_id, b.ultimo_id FROM reservations a JOIN reservations b "
                "ON a.space_id = b.space_id AND a.ultimo_id < b.ultimo_id "
                "WHERE a.status = 'Processed' AND b.status = 'Processed' "
                "AND a.blocked_start < b.blocked_end AND b.blocked_start < a.blocked_end"
            )
        ).all()
        if overlapping:
            problems.append(f"overlapping active reservations: {overlapping}")
        rows = conn.execute(select(reservations)).all()
        for row in rows:
            if not row.start_time < row.end_time:
                problems.append(f"{row.ultimo_id}: end not after start")
            prep = row.start_time - row.blocked_start
            cleanup = row.blocked_end - row.end_time
            if (prep.total_seconds(), cleanup.total_seconds()) != (
                row.preparation_minutes * 60,
                row.cleanup_minutes * 60,
            ):
                problems.append(f"{row.ultimo_id}: blocked interval does not match its snapshot")
        highest = max((row.ultimo_id for row in rows), default=0)
        if database.dialect == "postgresql":
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence('reservations', 'ultimo_id')")
            ).scalar_one()
            last = conn.execute(text(f"SELECT last_value FROM {sequence}")).scalar_one()
        else:
            last = conn.execute(
                text("SELECT seq FROM sqlite_sequence WHERE name = 'reservations'")
            ).scalar()
        if last is None or last < highest:
            problems.append(f"sequence at {last}, below the highest UltimoId {highest}")
        for table, column, parent in (
            ("reservations", "space_id", "spaces"),
            ("reservations", "applicant_id", "people"),
        ):
            orphans = conn.execute(
                text(
                    f"SELECT count(*) FROM {table} t WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {parent} p WHERE p.id = t.{column})"
                )
            ).scalar_one()
            if orphans:
                problems.append(f"{orphans} {table}.{column} name no {parent} row")
    return problems


def overlapping(database: Database, space_ids: list[str]) -> list[tuple[int, int]]:
    """Return pairs of active reservations of these spaces whose blocked intervals overlap."""
    if not space_ids:
        return []
    a, b = reservations.alias("a"), reservations.alias("b")
    query = select(a.c.ultimo_id, b.c.ultimo_id).where(
        a.c.space_id.in_(space_ids),
        a.c.space_id == b.c.space_id,
        a.c.ultimo_id < b.c.ultimo_id,
        a.c.status == "Processed",
        b.c.status == "Processed",
        a.c.blocked_start < b.c.blocked_end,
        b.c.blocked_start < a.c.blocked_end,
    )
    with database.read() as conn:
        return [(row[0], row[1]) for row in conn.execute(query)]


def reservation_rows(database: Database, space_ids: list[str]) -> set[tuple[Any, ...]]:
    """Return the stored reservations of these spaces as the model writes them."""
    r = reservations.c
    query = select(
        r.ultimo_id,
        r.space_id,
        r.description,
        r.start_time,
        r.end_time,
        r.preparation_minutes,
        r.cleanup_minutes,
        r.status,
    ).where(r.space_id.in_(space_ids))
    with database.read() as conn:
        return {tuple(row) for row in conn.execute(query)}
