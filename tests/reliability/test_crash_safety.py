"""Crash safety: SIGKILL under continuous create load, then restart.

Four clients keep creating reservations (one in five deliberately into an occupied slot,
so some answers are refusals) while the server is killed with SIGKILL, three times over,
restarting on the same database each time. Afterwards:
- every reservation answered 200 is stored, with its UltimoId, times and description;
- nothing answered with an error is stored;
- a request cut off by the kill (no answer) is stored whole or not at all;
- the store passes its integrity check (SQLite ``PRAGMA integrity_check``; on both, the
  consistency queries of ``stored.integrity_problems``) and numbering goes on upward.

What the guarantee rests on is in docs/reliability.md: on SQLite, WAL with
``synchronous=FULL``, pinned by ``test_sqlite_runs_with_the_durable_settings``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from roomline.storage.database import Database
from roomline.storage.tables import reservations
from tests.conftest import TEST_NOW, World
from tests.reliability.stored import integrity_problems
from tests.support import DEMO_KEY, ELEMENT_IDS, Server, start_server

CREATE = "REST_CreateReservation"
CLIENTS = 4
ROUNDS = 3
ANSWERS_BEFORE_KILL = 40  # per round, all clients together
MAX_REQUESTS_PER_CLIENT = 5_000  # a bound in case a kill never lands
FIRST_SLOT = datetime(2030, 2, 1, tzinfo=UTC)


@dataclass
class Sent:
    description: str
    space_id: str
    start: datetime
    end: datetime
    outcome: str = "unanswered"  # "created", "refused" or "unanswered"
    ultimo_id: int | None = None


class Load:
    """Clients creating reservations until the server stops answering."""

    def __init__(self, base_url: str, spaces: list[str], round_number: int) -> None:
        self.base_url = base_url
        self.spaces = spaces
        self.round = round_number
        self.sent: list[Sent] = []
        self.answers = 0
        self.lock = threading.Lock()
        self.enough = threading.Event()

    def client(self, number: int) -> None:
        space_id = self.spaces[number]
        headers = {"ApiKey": DEMO_KEY, "ApplicationElementId": ELEMENT_IDS[CREATE]}
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            for n in range(MAX_REQUESTS_PER_CLIENT):
                # One request in five takes the slot of the one before: refused with 1015.
                slot = self.round * MAX_REQUESTS_PER_CLIENT + n - (1 if n % 5 == 4 else 0)
                start = FIRST_SLOT + timedelta(hours=slot)
                sent = Sent(
                    f"crash {self.round}-{number}-{n}",
                    space_id,
                    start,
                    start + timedelta(minutes=45),
                )
                with self.lock:
                    self.sent.append(sent)
                body = {
                    "Description": sent.description,
                    "SpaceId": space_id,
                    "StartTime": start.isoformat(),
                    "EndTime": sent.end.isoformat(),
                    "ApplicantId": "ULTIMO",
                }
                try:
                    response = http.post(f"/api/V1/Action/{CREATE}", json=body, headers=headers)
                except httpx.TransportError:
                    return  # the server is gone; this request's fate is unknown
                if response.status_code == 200:
                    sent.outcome = "created"
                    sent.ultimo_id = int(response.json()["Properties"]["UltimoId"])
                else:
                    assert response.status_code == 400, response.text
                    assert response.json()["code"] == "1015", response.text
                    sent.outcome = "refused"
                with self.lock:
                    self.answers += 1
                    if self.answers >= ANSWERS_BEFORE_KILL:
                        self.enough.set()


def kill_under_load(server: Server, spaces: list[str], round_number: int) -> list[Sent]:
    load = Load(server.base_url, spaces, round_number)
    threads = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    assert load.enough.wait(timeout=120), "the load never got its answers"
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=60)
    server.client.close()
    assert not any(thread.is_alive() for thread in threads)
    return load.sent


def test_sigkill_under_create_load_loses_and_invents_nothing(
    database_url: str, tmp_path: Path, make_world: Callable[[str], World]
) -> None:
    server = start_server(database_url, tmp_path, "--now", TEST_NOW)
    world = make_world(database_url)
    spaces = [world.space(tz="UTC").id for _ in range(CLIENTS)]
    sent: list[Sent] = []
    try:
        for round_number in range(ROUNDS):
            sent += kill_under_load(server, spaces, round_number)
            server = start_server(database_url, tmp_path)
        # The restarted server serves, and numbering goes on above every number handed out.
        start = FIRST_SLOT + timedelta(days=3650)
        after = server.call(
            CREATE,
            {
                "SpaceId": spaces[0],
                "StartTime": start.isoformat(),
                "EndTime": (start + timedelta(hours=1)).isoformat(),
                "ApplicantId": "ULTIMO",
                "Description": "after the kills",
            },
        )
        assert after.status_code == 200, after.text
        assert int(after.json()["Properties"]["UltimoId"]) > max(s.ultimo_id or 0 for s in sent)
    finally:
        server.stop()

    database = world.database
    with database.read() as conn:
        rows = {
            row.description: row
            for row in conn.execute(select(reservations).where(reservations.c.space_id.in_(spaces)))
        }
    created = [s for s in sent if s.outcome == "created"]
    refused = [s for s in sent if s.outcome == "refused"]
    unanswered = [s for s in sent if s.outcome == "unanswered"]
    print(
        f"{database.dialect}: {len(sent)} requests, {len(created)} created, "
        f"{len(refused)} refused, {len(unanswered)} cut off by {ROUNDS} kills "
        f"({sum(s.description in rows for s in unanswered)} of those committed)"
    )
    assert len(created) >= ROUNDS * ANSWERS_BEFORE_KILL // 2 and refused
    for request in created:
        row = rows.get(request.description)
        assert row is not None, f"answered 200 but lost: {request}"
        assert (row.ultimo_id, row.start_time, row.end_time, row.status) == (
            request.ultimo_id,
            request.start,
            request.end,
            "Processed",
        )
    for request in refused:
        assert request.description not in rows, f"refused but stored: {request}"
    for request in unanswered:
        row = rows.get(request.description)
        if row is not None:  # committed just before the kill: whole, never half
            assert (row.start_time, row.end_time) == (request.start, request.end)
    unanswered_stored = sum(s.description in rows for s in unanswered)
    assert len(rows) == len(created) + unanswered_stored + 1  # + the one made after the kills
    assert integrity_problems(database) == []


def test_sqlite_runs_with_the_durable_settings(tmp_path: Path) -> None:
    # The crash guarantee on SQLite rests on these (docs/reliability.md).
    database = Database(f"sqlite:///{tmp_path / 'durable.db'}")
    try:
        with database.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()
