"""The bounded conflict and window queries answer exactly what a full scan would.

They start their index range at the latest active reservation before the interval, which
is only correct because active blocks never overlap; these tests compare them with a
brute-force answer over a history with long, short, touching and cancelled reservations.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from roomline.domain.errors import SpaceNotAvailable
from roomline.domain.reservations import Interval, Person, Space, blocked_interval
from roomline.services.keys import authenticate, store_key
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade
from tests.storage.helpers import database_with

ROOM = Space("R1", "Room one", "UTC", 10, 5, 4, True)
T0 = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from database_with(database_url, ROOM, Person("P1", "Person"))


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def fill(db: Database, seed: int) -> list[tuple[int, datetime, datetime, bool]]:
    """Book random spans (some very long), cancel some; return (id, start, end, active)."""
    rng = random.Random(seed)
    booked: list[tuple[int, datetime, datetime, bool]] = []
    for _ in range(120):
        start = minutes(rng.randrange(0, 5000))
        end = start + timedelta(minutes=rng.choice([5, 15, 30, 60, 600, 2000]))
        blocked = blocked_interval(start, end, ROOM.preparation_minutes, ROOM.cleanup_minutes)
        with db.write() as conn:
            if store.first_conflict(conn, ROOM.id, blocked) is not None:
                continue
            ultimo_id = store.insert_reservation(
                conn,
                space=ROOM,
                applicant_id="P1",
                description="",
                start=start,
                end=end,
                blocked=blocked,
                api_key_id=None,
                external_id="",
                request_fingerprint=None,
                now=T0,
            )
            active = rng.random() > 0.3
            if not active:
                store.cancel(conn, ultimo_id, T0)
        booked.append((ultimo_id, start, end, active))
    return booked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_first_conflict_and_window_match_a_full_scan(database: Database, seed: int) -> None:
    booked = fill(database, seed)
    assert len(booked) > 10
    rng = random.Random(seed + 100)
    with database.read() as conn:
        for _ in range(300):
            start = minutes(rng.randrange(-100, 5200))
            end = start + timedelta(minutes=rng.choice([1, 10, 45, 300, 3000]))
            candidate = Interval(start, end)
            expected_conflicts = {
                ultimo_id
                for ultimo_id, s, e, active in booked
                if active
                and blocked_interval(s, e, ROOM.preparation_minutes, ROOM.cleanup_minutes).overlaps(
                    candidate
                )
            }
            found = store.first_conflict(conn, ROOM.id, candidate)
            assert (found is None) == (not expected_conflicts)
            assert found is None or found in expected_conflicts
            for ignored in expected_conflicts:
                others = expected_conflicts - {ignored}
                found = store.first_conflict(conn, ROOM.id, candidate, ignore_id=ignored)
                assert (found is None) == (not others)
                assert found is None or found in others

            listed = [row.ultimo_id for row in store.in_window(conn, ROOM.id, start, end)]
            expected = sorted(
                (s, ultimo_id)
                for ultimo_id, s, e, active in booked
                if active and s < end and e > start
            )
            assert listed == [ultimo_id for _, ultimo_id in expected]


def test_the_database_still_refuses_an_overlap_that_skips_the_check(database: Database) -> None:
    """The bounded SQLite triggers (and PostgreSQL's constraint) catch a reach-in from before."""
    long_start, long_end = minutes(0), minutes(1000)
    later = minutes(2000)
    for start, end in ((long_start, long_end), (later, later + timedelta(minutes=30))):
        with database.write() as conn:
            store.insert_reservation(
                conn,
                space=ROOM,
                applicant_id="P1",
                description="",
                start=start,
                end=end,
                blocked=blocked_interval(start, end, 10, 5),
                api_key_id=None,
                external_id="",
                request_fingerprint=None,
                now=T0,
            )
    # Inside the long reservation, after a short one that starts later than it.
    inside = minutes(500)
    with pytest.raises((SpaceNotAvailable, IntegrityError)), database.write() as conn:
        store.insert_reservation(
            conn,
            space=ROOM,
            applicant_id="P1",
            description="",
            start=inside,
            end=inside + timedelta(minutes=10),
            blocked=blocked_interval(inside, inside + timedelta(minutes=10), 10, 5),
            api_key_id=None,
            external_id="",
            request_fingerprint=None,
            now=T0,
        )


def test_a_rolled_back_instance_key_is_never_kept(database_url: str) -> None:
    """The HMAC key cache keeps only a committed instance key."""
    db = Database(database_url)
    upgrade(db)
    with pytest.raises(RuntimeError), db.write() as conn:
        store_key(conn, name="first", secret="A" * 32, now=T0)
        store_key(conn, name="second", secret="B" * 32, now=T0)  # reads the uncommitted key
        raise RuntimeError("roll back")
    with db.write() as conn:
        store_key(conn, name="kept", secret="C" * 32, now=T0)
    db.dispose()
    # A fresh process (here: a fresh engine) must accept the key.
    fresh = Database(database_url)
    with fresh.read() as conn:
        assert authenticate(conn, "C" * 32, "REST_CreateReservation").name == "kept"
    fresh.dispose()
