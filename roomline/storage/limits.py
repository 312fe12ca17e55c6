"""Request counters in the database, shared by every worker process and host.

Two shapes, both safe under concurrent writers on SQLite and PostgreSQL:

- a moving window (``hit_moving_window``) keeps one row per counted request and refuses
  the request that would make more than ``amount`` rows younger than the window. The
  count and the insert must not interleave with another request's: on SQLite the write
  transaction already holds the database's write lock (``BEGIN IMMEDIATE``); on
  PostgreSQL a transaction-scoped advisory lock per limit key serialises them.
- a fixed window (``hit_fixed_window``) is one counter row per key and window, raised by
  a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE hits < amount`` statement, which
  both databases execute atomically.

A refusal records nothing, so refused requests never use up a limit. Repositories never
commit: the caller's transaction makes all of one request's counts stick, or none.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from roomline.storage.tables import quota_counters, rate_limit_hits


def hit_moving_window(
    conn: Connection, limit_key: str, amount: int, window_ms: int, now_ms: int
) -> int | None:
    """Count one request; return None if allowed, else milliseconds until a slot frees."""
    _lock(conn, limit_key)
    conn.execute(
        delete(rate_limit_hits).where(
            rate_limit_hits.c.limit_key == limit_key,
            rate_limit_hits.c.at_ms <= now_ms - window_ms,
        )
    )
    wait_ms = moving_window_wait(conn, limit_key, amount, window_ms, now_ms)
    if wait_ms is None:
        conn.execute(insert(rate_limit_hits).values(limit_key=limit_key, at_ms=now_ms))
    return wait_ms


def moving_window_wait(
    conn: Connection, limit_key: str, amount: int, window_ms: int, now_ms: int
) -> int | None:
    """Return None if one more request fits the window, else milliseconds until it does.

    Counts nothing: on its own, a look that may be out of date by the time it is used.
    """
    younger = (rate_limit_hits.c.limit_key == limit_key) & (
        rate_limit_hits.c.at_ms > now_ms - window_ms
    )
    counted = conn.execute(select(func.count()).where(younger)).scalar_one()
    if counted < amount:
        return None
    # The slot frees when the hit that keeps the window full grows too old.
    blocking = conn.execute(
        select(rate_limit_hits.c.at_ms)
        .where(younger)
        .order_by(rate_limit_hits.c.at_ms)
        .offset(counted - amount)
        .limit(1)
    ).scalar()
    oldest = now_ms if blocking is None else int(blocking)
    return max(oldest + window_ms - now_ms, 1)


def hit_fixed_window(conn: Connection, limit_key: str, window_start: int, amount: int) -> bool:
    """Count one request in the window starting at ``window_start``; return whether allowed."""
    if amount <= 0:
        return False
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(quota_counters)
        .values(limit_key=limit_key, window_start=window_start, hits=1)
        .on_conflict_do_update(
            index_elements=[quota_counters.c.limit_key, quota_counters.c.window_start],
            set_={"hits": quota_counters.c.hits + 1},
            where=quota_counters.c.hits < amount,
        )
        .returning(quota_counters.c.hits)
    )
    hits = conn.execute(statement).scalar()
    if hits is None:
        return False
    if hits == 1:  # a new window: earlier windows of this key are done with
        conn.execute(
            delete(quota_counters).where(
                quota_counters.c.limit_key == limit_key,
                quota_counters.c.window_start < window_start,
            )
        )
    return True


def fixed_window_count(conn: Connection, limit_key: str, window_start: int) -> int:
    """Return how many requests the window has counted (for reports and tests)."""
    value = conn.execute(
        select(quota_counters.c.hits).where(
            quota_counters.c.limit_key == limit_key,
            quota_counters.c.window_start == window_start,
        )
    ).scalar()
    return 0 if value is None else int(value)


def _lock(conn: Connection, limit_key: str) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite: the write transaction holds the database's only write lock
    digest = hashlib.sha256(b"roomline-limit:" + limit_key.encode()).digest()
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:lock_id)"),
        {"lock_id": int.from_bytes(digest[:8], "big", signed=True)},
    )
