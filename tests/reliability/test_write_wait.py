"""SQLite: a write waits for the database at most ``ROOMLINE_DATABASE_WAIT_SECONDS`` in all.

Another program holds the write lock for many times that wait while creates (on the
event loop, more than one write group of them) and management writes (in threads) arrive
at once. Each must answer 503 with Retry-After within its own wait, so none is still
waiting when the lock is let go: before the fix, the groups behind the first and the
thread writers each began a fresh wait when the one ahead gave up, and answered 200 long
after the documented time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from roomline.storage.database import Database
from roomline.storage.tables import reservations, spaces
from tests.conftest import TEST_NOW
from tests.support import ADMIN_TOKEN, DEMO_KEY, ELEMENT_IDS, start_server

WAIT_SECONDS = "1"
HOLD_SECONDS = 10  # another program's hold on the write lock: ten waits
CREATES = 48  # more than one write group (groupcommit.MAX_GROUP is 32)
MANAGEMENT_WRITES = 8
CREATE = "REST_CreateReservation"


def create_body(index: int) -> dict[str, str]:
    return {
        "SpaceId": "C-25",
        "ApplicantId": "ULTIMO",
        "StartTime": f"2030-02-{1 + index // 12:02d} {8 + index % 12:02d}:00:00",
        "EndTime": f"2030-02-{1 + index // 12:02d} {8 + index % 12:02d}:30:00",
        "Description": f"waits {index}",
    }


async def send_all(base_url: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        creates = [
            client.post(
                f"/api/V1/Action/{CREATE}",
                json=create_body(index),
                headers={"ApiKey": DEMO_KEY, "ApplicationElementId": ELEMENT_IDS[CREATE]},
            )
            for index in range(CREATES)
        ]
        management = [
            client.post(
                "/api/manage/spaces",
                json={"id": f"W-{index}"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            for index in range(MANAGEMENT_WRITES)
        ]
        return await asyncio.gather(*creates, *management)


def counts(database_url: str) -> tuple[int, int]:
    database = Database(database_url)
    try:
        with database.read() as conn:
            return (
                conn.execute(select(func.count()).select_from(reservations)).scalar_one(),
                conn.execute(select(func.count()).select_from(spaces)).scalar_one(),
            )
    finally:
        database.dispose()


def test_writes_give_up_after_the_configured_wait_while_another_program_holds_the_lock(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'wait.db'}"
    server = start_server(
        database_url,
        tmp_path,
        "--now",
        TEST_NOW,
        env={"ROOMLINE_DATABASE_WAIT_SECONDS": WAIT_SECONDS},
    )
    try:
        before = counts(database_url)
        holder = sqlite3.connect(
            tmp_path / "wait.db", isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN IMMEDIATE")

        def let_go_later() -> None:
            time.sleep(HOLD_SECONDS)
            holder.execute("ROLLBACK")

        letting_go = threading.Thread(target=let_go_later)
        letting_go.start()
        try:
            answers = asyncio.run(send_all(server.base_url))
        finally:
            letting_go.join()
            holder.close()
        statuses = [(answer.status_code, answer.headers.get("Retry-After")) for answer in answers]
        assert statuses == [(503, "1")] * (CREATES + MANAGEMENT_WRITES)
        assert {answer.json()["code"] for answer in answers[:CREATES]} == {"ServiceUnavailable"}
        assert counts(database_url) == before  # nothing was written
        # The lock is free again: writes go through.
        assert server.call(CREATE, create_body(0)).status_code == 200
    finally:
        server.stop()
