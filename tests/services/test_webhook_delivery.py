"""The webhook delivery job's pacing while the log is quiet, on both databases.

The end-to-end behaviour (signatures, retries, restarts, two workers) is tested against a
running server in tests/api/test_webhooks.py; this is the job's own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from roomline.domain.reservations import Person, Space
from roomline.domain.webhooks import Targets
from roomline.services.changes import ChangeLog, ChangeWatch, Retention
from roomline.services.clock import SystemClock
from roomline.services.webhook_delivery import WebhookDelivery
from roomline.services.webhooks import Webhooks
from roomline.storage.database import Database
from tests.storage.helpers import database_with

ROOM = Space("R1", "Room one", "UTC", 15, 15, 4, True)
PERSON = Person("P1", "Person")
TARGETS = Targets.from_setting("192.0.2.0/24")  # TEST-NET-1: nothing is sent in these tests


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
