"""What a report reads from the log, on both databases: the entries of each action, and
their instants as whole seconds.

PostgreSQL's seconds come from ``date_part`` (a double), exact to the microsecond before
2242 and cut to the second first after that (storage/reports.py): the instants below sit
on both sides of that line, a microsecond before a whole second, and must come back
rounded down, as ``floor(extract(epoch ...))`` had them. SQLite's ``unixepoch()`` reads
an instant to the millisecond first (so 23:59:59.999999 is the next second); that is
unchanged, and not what these instants test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from roomline.domain.utilisation import LogFacts
from roomline.storage import reports as store
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade
from roomline.storage.tables import audit_log
from tests.support import fresh_database_url

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CANCELLED_AT = {
    1: datetime(1900, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
    2: datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    3: datetime(2030, 3, 31, 1, 59, 59, 999999, tzinfo=UTC),
    4: datetime(2241, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    5: datetime(2242, 1, 1, 0, 0, 0, tzinfo=UTC),
    6: datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
}


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _log(database: Database, entries: list[tuple[int, str, datetime]]) -> None:
    with database.write() as conn:
        conn.execute(
            insert(audit_log),
            [
                {"ultimo_id": ultimo_id, "action": action, "at": at, "after_state": "{}"}
                for ultimo_id, action, at in entries
            ],
        )


def test_postgresql_log_facts_give_whole_seconds_rounded_down(tmp_path: Path) -> None:
    # PostgreSQL only: SQLite's unixepoch() reads to the millisecond first (see above).
    with fresh_database_url("postgresql", tmp_path) as url:
        database = Database(url)
        try:
            upgrade(database)
            _log(database, [(ultimo_id, "cancel", at) for ultimo_id, at in CANCELLED_AT.items()])
            with database.read() as conn:
                facts = store.log_facts(conn, 1, 6)
        finally:
            database.dispose()
    # Whole seconds by integer arithmetic: datetime.timestamp()'s double rounds 9998's up.
    assert facts.cancelled_at == {
        ultimo_id: (at - EPOCH) // timedelta(seconds=1) for ultimo_id, at in CANCELLED_AT.items()
    }
    assert facts.cancelled_at[2] == -1
    assert facts.cancelled_at[6] == 253370764799


def test_log_facts_keep_to_their_actions_and_ids(database: Database) -> None:
    at = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    _log(
        database,
        [
            (10, "create", at),
            (10, "check_in", at),
            (11, "release", at),
            (12, "cancel", at),
            (12, "update", at),
            (13, "check_in", at),  # outside the range asked for
        ],
    )
    with database.read() as conn:
        facts = store.log_facts(conn, 10, 12)
    assert facts == LogFacts(
        cancelled_at={12: int(at.timestamp())},
        released=frozenset({11}),
        checked_in=frozenset({10}),
    )
