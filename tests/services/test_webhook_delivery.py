"""The webhook delivery job's pacing while the log is quiet, a round whose commit went
unanswered, and what pruning keeps (the changes not fanned out yet, the deliveries not
ended or tried lately), on both databases.

The end-to-end behaviour (signatures, retries, restarts, two workers) is tested against a
running server in tests/api/test_webhooks.py; this is the job's own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import OperationalError

from roomline.domain.reservations import Person, Space
from roomline.domain.webhooks import Targets
from roomline.services import webhook_delivery
from roomline.services.changes import ChangeLog, ChangeWatch, Retention
from roomline.services.clock import SharedClock, SystemClock, pin
from roomline.services.reservations import NewReservation, Policy, ReservationService
from roomline.services.webhook_delivery import WebhookDelivery
from roomline.services.webhooks import Webhooks
from roomline.storage import webhooks as store
from roomline.storage.database import Database
from roomline.storage.tables import audit_log, webhook_attempts, webhook_deliveries
from tests.api.receiver import Answer, running_receiver
from tests.storage.helpers import database_with
from tests.support import fresh_database_url

ROOM = Space("R1", "Room one", "UTC", 15, 15, 4, True)
PERSON = Person("P1", "Person")
TARGETS = Targets.from_setting("192.0.2.0/24")  # TEST-NET-1: nothing is sent in these tests
LOOPBACK = Targets.from_setting("127.0.0.0/8")
NOW = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from database_with(database_url, ROOM, PERSON)


def test_after_a_quiet_wait_the_job_looks_again_at_once(database: Database) -> None:
    """Caught up, the job waits for the log to grow. When that wait ends with nothing new,
    the job must run again at once (it watches the log again and looks for retries
    coming due), not sleep another interval without watching: a change made in that
    sleep reached its receivers up to a second late (bench.changes showed the first
    changes after a quiet spell arriving after about 1,020 ms)."""
    clock = SystemClock()
    changes = ChangeLog(database, clock, "UTC", Retention(30))
    Webhooks(database, clock, TARGETS).add("http://192.0.2.1/hook", ["reservation.created"])
    delivery = WebhookDelivery(
        database, clock, changes, ChangeWatch(changes.latest, interval=0.05), TARGETS
    )

    sent_anything = asyncio.run(delivery.run())

    assert sent_anything is False
    assert delivery.job._wake.is_set()  # the background loop runs it again without a pause


def test_nobody_subscribed_the_job_sleeps(database: Database) -> None:
    """With no subscription there is no log to watch: the job sleeps its interval (a
    subscription added in this process wakes it)."""
    clock = SystemClock()
    changes = ChangeLog(database, clock, "UTC", Retention(30))
    delivery = WebhookDelivery(
        database, clock, changes, ChangeWatch(changes.latest, interval=0.05), TARGETS
    )

    assert asyncio.run(delivery.run()) is False
    assert not delivery.job._wake.is_set()


class CommitAnswerLost:
    """The database, except that write transaction number ``lost`` commits and then fails
    as though the commit's answer never came (PostgreSQL's connection lost at COMMIT)."""

    def __init__(self, database: Database, lost: int) -> None:
        self.database = database
        self.lost = lost
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.database, name)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.database.write() as conn:
            yield conn
        self.writes += 1
        if self.writes == self.lost:
            lost = ConnectionError("server closed the connection unexpectedly")
            raise OperationalError("COMMIT", {}, lost)


def test_a_round_whose_commit_went_unanswered_is_not_recorded_twice(database: Database) -> None:
    """The round recording two attempts (one 500, one 200) commits, but its answer is lost.
    The job keeps the attempts for the next round, as it must when a round was refused;
    that round must not record them again: each delivery keeps one attempt, counted
    once (twice, the failed one's retry schedule would skip a step). The clock is pinned,
    so the failed one's retry (5 s on) never comes due within the test, however slow."""
    clock = SharedClock()
    with database.write() as conn:
        pin(conn, NOW)
    changes = ChangeLog(database, clock, "UTC", Retention(30))
    webhooks = Webhooks(database, clock, LOOPBACK)
    with running_receiver(Answer(500, hold_seconds=0.1), Answer(200, hold_seconds=0.1)) as got:
        added = [
            webhooks.add(f"{got.url}/{name}", ["reservation.created"]).values["id"]
            for name in ("one", "two")
        ]
        tomorrow = NOW + timedelta(days=1)
        times = (tomorrow.isoformat(), (tomorrow + timedelta(hours=1)).isoformat())
        ReservationService(database, clock, Policy()).create(
            NewReservation(ROOM.id, PERSON.id, *times, description="Review"), None
        )
        # Write 1 adds the deliveries; the attempts are recorded from write 2 on.
        flaky = CommitAnswerLost(database, lost=2)
        delivery = WebhookDelivery(
            flaky,  # type: ignore[arg-type]
            clock,
            changes,
            ChangeWatch(changes.latest, interval=0.05),
            LOOPBACK,
        )

        assert asyncio.run(delivery.run()) is True

        assert flaky.writes >= 3  # the lost commit's round was written again
        assert len(got.received) == 2
    found = [webhooks.deliveries(subscription_id) for subscription_id in added]
    assert sorted(
        (d["status"], d["attempt_count"], [a["status_code"] for a in d["attempts"]])
        for [d] in found
    ) == [("pending", 1, [500]), ("succeeded", 1, [200])]


def test_the_pruner_keeps_the_changes_no_round_has_fanned_out(database: Database) -> None:
    """The audit's retention lets the pruner delete old entries. A change no delivery round
    has read yet (the background process stopped for longer than the log is kept, or its
    rounds refused) is the only source of its webhooks' deliveries: it stays until a round
    has fanned it out, and goes at the next pruning after that."""
    Webhooks(database, SharedClock(), TARGETS).add("http://192.0.2.1/hook", ["reservation.created"])
    changes, delivery = ten_days_after_two_changes(database)

    assert changes.prune(delivery.fanned_out_through) == 0
    assert len(changes.page(None, limit=10).changes) == 0  # past the feed's reach, still kept
    with database.read() as conn:
        assert log_count(conn) == 2

    fanned_out = delivery.next_round([], take=True)  # leased to this worker, nothing sent

    assert len(fanned_out.sends) == 2
    assert changes.prune(delivery.fanned_out_through) == 2
    with database.read() as conn:
        assert log_count(conn) == 0


def test_without_a_subscription_the_pruner_holds_nothing_back(database: Database) -> None:
    changes, delivery = ten_days_after_two_changes(database)

    assert changes.prune(delivery.fanned_out_through) == 2


def ten_days_after_two_changes(database: Database) -> tuple[ChangeLog, WebhookDelivery]:
    """Two reservations created at NOW, and the clock ten days on: past the feed's 2 days
    and the audit's 3."""
    clock = SharedClock()
    with database.write() as conn:
        pin(conn, NOW)
    changes = ChangeLog(database, clock, "UTC", Retention(2, 3))
    service = ReservationService(database, clock, Policy())
    for day in (1, 2):
        start = NOW + timedelta(days=day)
        end = start + timedelta(hours=1)
        service.create(NewReservation(ROOM.id, PERSON.id, start.isoformat(), end.isoformat()), None)
    with database.write() as conn:
        pin(conn, NOW + timedelta(days=10))
    watch = ChangeWatch(changes.latest, interval=0.05)
    return changes, WebhookDelivery(database, clock, changes, watch, TARGETS)


def log_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_ended_deliveries_go_once_the_feed_no_longer_reaches_them(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery that ended (delivered, given up) goes with its attempts once the feed's
    retention has passed since it was made and since its last attempt. A pending one stays,
    however old, and so does one replayed lately. Two deliveries a transaction: the first
    two stay, so the walk must go on to the next transaction to find the two that go."""
    monkeypatch.setattr(webhook_delivery, "PRUNE_BATCH", 2)
    clock = SharedClock()
    with database.write() as conn:
        pin(conn, NOW)
    webhooks = Webhooks(database, clock, TARGETS)
    subscription = webhooks.add("http://192.0.2.1/hook", ["reservation.created"]).values["id"]
    old, lately = NOW - timedelta(days=40), NOW - timedelta(days=5)
    made = {  # in the order they were made: when, where it stands, its attempts
        "still_pending": (old, "pending", [old]),
        "replayed_lately": (old, "succeeded", [old, lately]),
        "delivered_long_ago": (old, "succeeded", [old]),
        "given_up_long_ago": (old, "failed", [old, old + timedelta(hours=1)]),
        "delivered_lately": (lately, "succeeded", [lately]),
    }
    with database.write() as conn:
        for message_id, (created, status, tries) in made.items():
            store.add_delivery(conn, delivery_row(subscription, message_id, created, status))
            store.add_attempts(conn, attempts_at(message_id, tries))
    changes = ChangeLog(database, clock, "UTC", Retention(30))
    delivery = WebhookDelivery(
        database, clock, changes, ChangeWatch(changes.latest, interval=0.05), TARGETS
    )

    assert delivery.prune(30) == 2

    kept = webhooks.deliveries(subscription, limit=10)
    assert {d["message_id"]: len(d["attempts"]) for d in kept} == {
        "still_pending": 1,
        "replayed_lately": 2,
        "delivered_lately": 1,
    }
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_attempts)).scalar_one() == 4
    assert delivery.prune(30) == 0


def delivery_row(
    subscription: int, message_id: str, created: datetime, status: str
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "subscription_id": subscription,
        "event_type": "reservation.created",
        "cursor": None,
        "payload": "{}",
        "status": status,
        "attempt_count": 1,
        "next_attempt_at": NOW + timedelta(hours=1) if status == store.PENDING else None,
        "lease_until": None,
        "created_at": created,
    }


def attempts_at(message_id: str, times: list[datetime]) -> str:
    return store.attempts_json(
        [
            {
                "message_id": message_id,
                "at": at,
                "status_code": 200,
                "error": None,
                "duration_ms": 5,
                "response_excerpt": "",
                "lease_id": None,
            }
            for at in times
        ]
    )


def test_a_delivery_another_transaction_holds_is_not_pruned(tmp_path: Path) -> None:
    """PostgreSQL: a delivery locked by another transaction (a replay under way, another
    host's pruner) is skipped, not waited for and not deleted under it."""
    with fresh_database_url("postgresql", tmp_path) as url:
        for database in database_with(url, ROOM, PERSON):
            clock = SharedClock()
            webhooks = Webhooks(database, clock, TARGETS)
            subscription = webhooks.add("http://192.0.2.1/hook", ["reservation.created"])
            old = datetime.now(UTC) - timedelta(days=40)
            with database.write() as conn:
                for message_id in ("replay_under_way", "delivered_long_ago"):
                    row = delivery_row(subscription.values["id"], message_id, old, "succeeded")
                    store.add_delivery(conn, row)
                    store.add_attempts(conn, attempts_at(message_id, [old]))
            changes = ChangeLog(database, clock, "UTC", Retention(30))
            delivery = WebhookDelivery(
                database, clock, changes, ChangeWatch(changes.latest, interval=0.05), TARGETS
            )
            with ThreadPoolExecutor(1) as pool:
                with database.write() as holder:
                    holder.execute(
                        select(webhook_deliveries.c.id)
                        .where(webhook_deliveries.c.message_id == "replay_under_way")
                        .with_for_update()
                    )
                    pruning = pool.submit(delivery.prune, 30)
                    finished, _ = wait([pruning], timeout=20)
                # The lock is released: a pruner that waited for it ends now.
                assert finished, "the pruner waited for the delivery another transaction holds"

            assert pruning.result() == 1
            kept = webhooks.deliveries(subscription.values["id"])
            assert [d["message_id"] for d in kept] == ["replay_under_way"]
