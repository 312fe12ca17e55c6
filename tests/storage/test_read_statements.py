"""PostgreSQL's hot reads run each statement on its own, without BEGIN and COMMIT.

Under READ COMMITTED a transaction gives each statement a snapshot of its own anyway, so
the only difference is two round trips fewer. The pooled connection goes back to
ordinary transactions afterwards.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from roomline.storage.database import Database
from tests.support import fresh_database_url

SAME_TRANSACTION = text("SELECT now() = statement_timestamp()")


def test_hot_reads_on_postgresql_are_statements_of_their_own(tmp_path: Path) -> None:
    with fresh_database_url("postgresql", tmp_path) as url:
        database = Database(url, pool_size=1)  # the same pooled connection throughout
        try:
            with database.read() as conn:
                conn.execute(text("SELECT pg_sleep(0.01)"))
                assert conn.execute(SAME_TRANSACTION).scalar_one() is False  # one transaction
            with database.read_statements() as conn:
                conn.execute(text("SELECT pg_sleep(0.01)"))
                assert conn.execute(SAME_TRANSACTION).scalar_one() is True  # each its own
            with database.read() as conn:
                conn.execute(text("SELECT pg_sleep(0.01)"))
                assert conn.execute(SAME_TRANSACTION).scalar_one() is False  # back as before
        finally:
            database.dispose()
