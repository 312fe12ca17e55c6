"""Webhooks are at least once and never lost: across SIGKILL and restarts, and with
several workers each delivery is sent by one of them at a time (docs/webhooks.md)."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.api.receiver import Answer, running_receiver
from tests.api.test_webhooks import LOOPBACK_ALLOWED, advance, create, settled, subscribe
from tests.conftest import TEST_NOW, World
from tests.support import start_server

WORKERS = "2"
CREATES = 30


def test_a_change_is_delivered_after_sigkill_and_restart(database_url: str, tmp_path: Path) -> None:
    with running_receiver(Answer(200, hold_seconds=8)) as receiver:
        # 1. Changes are committed while no process fans them out, then the server dies.
        quiet_server = start_server(
            database_url,
            tmp_path,
            "--now",
            TEST_NOW,
            env={**LOOPBACK_ALLOWED, "ROOMLINE_BACKGROUND": "false"},
        )
        added = subscribe(quiet_server, receiver.url, ["reservation.created"], ["C-25"])
        ultimo_id = create(quiet_server, "C-25", 3)
        quiet_server.stop(signal.SIGKILL)

        # 2. The next server finds the change in the log and sends it; it is killed while
        #    the receiver holds the request, before the attempt is recorded.
        sender = start_server(database_url, tmp_path, "--now", TEST_NOW, env=LOOPBACK_ALLOWED)
        receiver.wait_started(1)
        sender.stop(signal.SIGKILL)

        # 3. The lease of the killed sender expires (60 s of the server's clock): the
        #    delivery goes out again, with the same webhook-id.
        server = start_server(database_url, tmp_path, "--now", TEST_NOW, env=LOOPBACK_ALLOWED)
        try:
            advance(server, 61)
            receiver.wait_started(2)
            first, again = receiver.started
            assert again["webhook-id"] == first["webhook-id"]
            [delivery] = settled(server, added["id"], 1, "succeeded")
            assert delivery["payload"]["data"]["reservation"]["ultimo_id"] == ultimo_id
            assert delivery["message_id"] == first["webhook-id"]
            assert delivery["attempt_count"] == 1  # the killed attempt left no record
        finally:
            server.stop()


def test_two_workers_never_send_the_same_attempt_twice(
    database_url: str, tmp_path: Path, make_world: Callable[[str], World]
) -> None:
    with running_receiver(*[Answer(200, hold_seconds=0.2)] * CREATES) as receiver:
        server = start_server(
            database_url, tmp_path, "--workers", WORKERS, command="serve", env=LOOPBACK_ALLOWED
        )
        try:
            world = make_world(database_url)
            space, key = world.space(), world.key()
            applicant = world.person().id
            added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
            first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
            created: list[str] = []

            def book(n: int) -> None:
                start = first + timedelta(hours=n)
                answer = server.call(
                    "REST_CreateReservation",
                    {
                        "ExternalId": "",
                        "Description": f"worker test {n}",
                        "SpaceId": space.id,
                        "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "EndTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "ApplicantId": applicant,
                    },
                    key=key,
                )
                assert answer.status_code == 200, answer.text
                created.append(answer.json()["Properties"]["UltimoId"])

            threads = [threading.Thread(target=book, args=(n,)) for n in range(CREATES)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            got = receiver.wait(CREATES, timeout=60)
            found = settled(server, added["id"], CREATES, "succeeded")
            assert len(receiver.started) == CREATES  # nothing was sent twice
            assert len({r.headers["webhook-id"] for r in got}) == CREATES
            assert {json.loads(r.body)["data"]["reservation"]["ultimo_id"] for r in got} == set(
                created
            )
            assert [d["attempts"] for d in found if len(d["attempts"]) != 1] == []
        finally:
            server.stop()


def test_attempts_that_end_while_the_database_refuses_are_recorded_once_it_answers(
    tmp_path: Path,
) -> None:
    """Another writer (a long import, say) holds SQLite's write lock past the background
    process's wait while a receiver answers: the round that would record the attempt is
    refused. The attempt is kept and recorded once the lock is free, not sent again."""
    path = tmp_path / "locked.db"
    with running_receiver(Answer(200, hold_seconds=1.0)) as receiver:
        server = start_server(
            f"sqlite:///{path}",
            tmp_path,
            "--now",
            TEST_NOW,
            env={**LOOPBACK_ALLOWED, "ROOMLINE_DATABASE_WAIT_SECONDS": "0.5"},
        )
        try:
            added = subscribe(server, receiver.url, ["reservation.created"], ["C-25"])
            ultimo_id = create(server, "C-25", 3)
            receiver.wait_started(1)
            other_writer = sqlite3.connect(path, isolation_level=None)
            other_writer.execute("BEGIN IMMEDIATE")
            time.sleep(4)  # the attempt ends after 1 s; each round is refused after 0.5 s
            other_writer.execute("ROLLBACK")
            other_writer.close()

            [delivery] = settled(server, added["id"], 1, "succeeded")
            assert delivery["payload"]["data"]["reservation"]["ultimo_id"] == ultimo_id
            assert delivery["attempt_count"] == 1
            assert "could not be written" in server.log()
            assert len(receiver.received) == 1
        finally:
            server.stop()
