"""The instance's API-key hashing secret exists before the first request needs it.

A fresh deployment's first requests used to create it on first use, each in its own
read transaction: racing ones collided (PostgreSQL: a unique violation, 500; SQLite: a
read transaction that cannot become a write, "database is locked", 503).
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from sqlalchemy import insert, select

from roomline.services.clock import SystemClock
from roomline.services.reservations import hot_paths_for
from roomline.storage.database import Database
from roomline.storage.keys import KEY_HASH_SECRET, hash_secret_key
from roomline.storage.migrate import upgrade
from roomline.storage.tables import instance_secrets
from tests.storage.helpers import run_together
from tests.support import fresh_database_url

ROUNDS = 8
WORKERS = 6


def first_request(workers: list[Database], index: int) -> bytes:
    hot = hot_paths_for(workers[index], SystemClock())

    async def read() -> bytes:
        try:
            return await hot.hash_secret_key()
        finally:
            await hot.close()

    return asyncio.run(read())


def test_the_first_requests_of_a_fresh_database_agree_on_the_hashing_secret(
    backend: str, tmp_path: Path
) -> None:
    wrong = []
    for round_ in range(ROUNDS):
        with fresh_database_url(backend, tmp_path) as url:
            migrated = Database(url)
            upgrade(migrated)
            migrated.dispose()
            # One engine per worker, as worker processes have: none has the secret yet.
            workers = [Database(url) for _ in range(WORKERS)]

            secrets = run_together(WORKERS, partial(first_request, workers))
            for worker in workers:
                worker.dispose()
        if len({repr(secret) for secret in secrets}) != 1 or not isinstance(secrets[0], bytes):
            wrong.append((round_, secrets))
    assert wrong == [], f"{len(wrong)} of {ROUNDS} rounds went wrong"


def test_a_database_that_has_its_secret_keeps_it(database_url: str) -> None:
    database = Database(database_url)
    upgrade(database, "0004")
    with database.write() as conn:
        conn.execute(insert(instance_secrets).values(name=KEY_HASH_SECRET, value="ab" * 32))
    upgrade(database)
    with database.read() as conn:
        assert hash_secret_key(conn) == bytes.fromhex("ab" * 32)
        hashing = select(instance_secrets.c.value).where(instance_secrets.c.name == KEY_HASH_SECRET)
        assert conn.execute(hashing).scalars().all() == ["ab" * 32]  # kept, and only once
    database.dispose()
