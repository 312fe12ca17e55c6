"""A write transaction that PostgreSQL aborts as a deadlock victim is run again."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, text

from roomline.storage.transient import retry_transient
from tests.support import fresh_database_url


def test_deadlock_victim_is_retried(tmp_path: Path) -> None:
    with fresh_database_url("postgresql", tmp_path) as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE counters (id int PRIMARY KEY, hits int NOT NULL)"))
            conn.execute(text("INSERT INTO counters VALUES (1, 0), (2, 0)"))
        both_hold_one = threading.Barrier(2)
        attempts = {"1-2": 0, "2-1": 0}

        def transfer(first: int, second: int) -> None:
            @retry_transient
            def work() -> None:
                attempts[f"{first}-{second}"] += 1
                with engine.begin() as conn:
                    conn.execute(
                        text("UPDATE counters SET hits = hits + 1 WHERE id = :id"), {"id": first}
                    )
                    if attempts[f"{first}-{second}"] == 1:
                        both_hold_one.wait(timeout=30)  # each holds one row: a deadlock
                    conn.execute(
                        text("UPDATE counters SET hits = hits + 1 WHERE id = :id"), {"id": second}
                    )

            work()

        threads = [threading.Thread(target=transfer, args=pair) for pair in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with engine.connect() as conn:
            hits = conn.execute(text("SELECT hits FROM counters ORDER BY id")).scalars().all()
        engine.dispose()
    assert sorted(attempts.values()) == [1, 2]  # the victim ran again, once
    assert hits == [2, 2]  # and both transfers are stored exactly once
