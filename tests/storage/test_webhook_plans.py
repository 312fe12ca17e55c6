"""A delivery round's statements keep using the index as the deliveries grow (PostgreSQL).

psycopg prepares a statement the sixth time one connection runs it, and PostgreSQL then
settles on a generic plan chosen for the tables as they were. Chosen while the deliveries
filled a page, recording an attempt scanned the whole table, and kept doing so as it grew
by hundreds of rows a second: in about one ``bench.changes`` run of four the round fell
seconds behind. ``plan_each_statement`` makes a round's statements be planned for the
table as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from roomline.domain.reservations import Person, Space
from roomline.storage import webhooks as store
from roomline.storage.database import Database
from tests.storage.helpers import database_with
from tests.support import fresh_database_url

ROOM = Space("R1", "Room one", "UTC", 15, 15, 4, True)
PERSON = Person("P1", "Person")
NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with fresh_database_url("postgresql", tmp_path) as url:
        yield from database_with(url, ROOM, PERSON)


def _delivery(subscription_id: int, number: int) -> dict[str, Any]:
    return {
        "message_id": f"m-{number}",
        "subscription_id": subscription_id,
        "event_type": "reservation.created",
        "cursor": number,
        "payload": "{}" + " " * 500,
        "status": store.PENDING,
        "attempt_count": 0,
        "next_attempt_at": NOW,
        "lease_until": NOW,
        "created_at": NOW,
    }


def _attempt(message_id: str) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "at": NOW,
        "status_code": 204,
        "error": None,
        "duration_ms": 3,
        "response_excerpt": "",
        "lease_id": f"lease-of-{message_id}",
    }


def _plan_of_recording(conn: Connection) -> str:
    """The plan the connection's prepared attempt insert would run with now."""
    name = conn.execute(
        text(
            "SELECT name FROM pg_prepared_statements "
            "WHERE statement LIKE 'INSERT INTO webhook_attempts%'"
        )
    ).scalar_one()
    attempts = store._NEW_ATTEMPTS.value([_attempt("m-7")])
    rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE {name}('{attempts}')")
    return "\n".join(row[0] for row in rows)


def test_recording_attempts_uses_the_index_once_the_table_has_grown(database: Database) -> None:
    with database.write() as conn:
        subscription_id = store.add_subscription(
            conn,
            url="http://192.0.2.1/hook",
            event_types=["reservation.created"],
            space_ids=[],
            secret="whsec_" + "A" * 32,
            now=NOW,
            start_cursor=0,
        )
    with database.engine.connect() as conn:
        # Statistics taken while nobody subscribed (autovacuum, or an ANALYZE after a
        # bulk load: bench.seed runs one), then one connection, as the background
        # process's pool hands out, and the first rounds: their statements are prepared
        # and planned while the deliveries fill a page or two.
        conn.execute(text("ANALYZE webhook_deliveries"))
        conn.commit()
        for first in range(0, 60, 3):
            with conn.begin():
                numbers = range(first, first + 3)
                store.add_deliveries(
                    conn, store.deliveries_json([_delivery(subscription_id, n) for n in numbers])
                )
                store.add_attempts(conn, store.attempts_json([_attempt(f"m-{n}") for n in numbers]))
        with conn.begin():
            store.add_deliveries(
                conn,
                store.deliveries_json([_delivery(subscription_id, n) for n in range(60, 5060)]),
            )
        with conn.begin():
            generic = _plan_of_recording(conn)
        with conn.begin():
            store.plan_each_statement(conn)
            planned_now = _plan_of_recording(conn)
            store.add_attempts(conn, store.attempts_json([_attempt("m-4000")]))
        with conn.begin():
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "auto"

    # Without it, the plan chosen for a few pages: every attempt reads the whole table.
    assert "Seq Scan on webhook_deliveries" in generic, generic
    assert "Index Scan using uq_webhook_deliveries_message_id" in planned_now, planned_now
    assert "Seq Scan" not in planned_now, planned_now
