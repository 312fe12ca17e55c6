"""No double booking across worker processes: ``serve --workers 4``, on both databases.

The race aims 200 concurrent creates at 20 slots. Each slot's ten requests all block a
common instant, so exactly one of them can win whatever the order; several of them
overlap the others only through preparation or cleanup time. The stress test mixes
creates, updates and cancels; each reservation is changed only by the client that made
it, so every 200 answer determines exactly what must be stored.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from roomline.domain.reservations import Space
from tests.conftest import World
from tests.support import ELEMENT_IDS, start_server

WORKERS = "4"
# Reservations lie in 2035 so the real clock of ``roomline serve`` sees them as future.
DAY = datetime(2035, 3, 5, tzinfo=UTC)

OVERLAPPING_BLOCKS = text(
    """
    SELECT count(*) FROM reservations a JOIN reservations b
      ON a.space_id = b.space_id AND a.ultimo_id < b.ultimo_id
     AND a.status = 'Processed' AND b.status = 'Processed'
     AND a.blocked_start < b.blocked_end AND b.blocked_start < a.blocked_end
    """
)


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def slot_requests(space: Space, day: datetime) -> list[tuple[datetime, datetime]]:
    """Ten bookings that all block 11:07 in a space with 15 minutes either side.

    The first is 10:00-11:00; the others start after it ends or end before the next
    group, clashing with it (and each other) through preparation and cleanup time.
    """
    assert (space.preparation_minutes, space.cleanup_minutes) == (15, 15)
    base = day.replace(hour=10)
    minutes = [
        (0, 60),
        (65, 80),
        (70, 110),
        (66, 90),
        (68, 75),
        (61, 69),
        (75, 100),
        (80, 95),
        (62, 64),
        (67, 120),
    ]
    return [(base + timedelta(minutes=a), base + timedelta(minutes=b)) for a, b in minutes]


async def post_all(base_url: str, key: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    """Send every body at once, each on its own connection so all workers take part."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        headers = {"ApiKey": key, "ApplicationElementId": ELEMENT_IDS["REST_CreateReservation"]}
        return await asyncio.gather(
            *(
                client.post("/api/V1/Action/REST_CreateReservation", json=b, headers=headers)
                for b in bodies
            )
        )


def test_two_hundred_creates_for_twenty_slots(
    database_url: str, tmp_path: Path, make_world
) -> None:
    server = start_server(database_url, tmp_path, "--workers", WORKERS, command="serve")
    try:
        world: World = make_world(database_url)
        person = world.person()
        key = world.key()
        spaces = [world.space(prep=15, cleanup=15) for _ in range(4)]
        bodies = []
        for group in range(20):
            space = spaces[group % 4]
            day = DAY + timedelta(days=group // 4)
            for n, (start, end) in enumerate(slot_requests(space, day)):
                bodies.append(
                    {
                        "ExternalId": f"g{group}-{n}",
                        "Description": f"group {group}",
                        "SpaceId": space.id,
                        "StartTime": utc(start),
                        "EndTime": utc(end),
                        "ApplicantId": person.id,
                    }
                )
        random.Random(7).shuffle(bodies)
        responses = asyncio.run(post_all(server.base_url, key, bodies))

        outcome = sorted((r.status_code, r.json().get("code", "created")) for r in responses)
        assert outcome == [(200, "created")] * 20 + [(400, "1015")] * 180
        winners = {
            body["Description"]
            for body, r in zip(bodies, responses, strict=True)
            if r.status_code == 200
        }
        assert winners == {f"group {g}" for g in range(20)}
        with world.database.read() as conn:
            assert conn.execute(OVERLAPPING_BLOCKS).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM reservations")).scalar_one() == 20
    finally:
        server.stop()


@dataclass
class Booking:
    ultimo_id: str
    start: datetime
    end: datetime
    cancelled: bool = False


@dataclass
class Client:
    """One stress client: it alone changes the reservations it created."""

    rng: random.Random
    spaces: list[Space]
    person: str
    owned: dict[str, Booking] = field(default_factory=dict)
    answers: dict[int, int] = field(default_factory=dict)

    def random_slot(self) -> tuple[Space, datetime, datetime]:
        space = self.rng.choice(self.spaces)
        start = DAY + timedelta(minutes=15 * self.rng.randrange(0, 4 * 24))
        return space, start, start + timedelta(minutes=15 * self.rng.randrange(1, 9))

    async def run(self, client: httpx.AsyncClient, key: str, operations: int) -> None:
        for _ in range(operations):
            live = [b for b in self.owned.values() if not b.cancelled]
            choice = self.rng.random()
            if not live or choice < 0.5:
                await self.create(client, key)
            elif choice < 0.8:
                await self.update(client, key, self.rng.choice(live))
            else:
                await self.cancel(client, key, self.rng.choice(live))

    async def call(
        self, client: httpx.AsyncClient, key: str, workflow: str, body: dict[str, str]
    ) -> httpx.Response:
        response = await client.post(
            f"/api/V1/Action/{workflow}", json=body, headers={"ApiKey": key}
        )
        self.answers[response.status_code] = self.answers.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert response.json()["code"] == "1015", response.text
        return response

    async def create(self, client: httpx.AsyncClient, key: str) -> None:
        space, start, end = self.random_slot()
        body = {
            "SpaceId": space.id,
            "StartTime": utc(start),
            "EndTime": utc(end),
            "ApplicantId": self.person,
        }
        response = await self.call(client, key, "REST_CreateReservation", body)
        if response.status_code == 200:
            ultimo_id = response.json()["Properties"]["UltimoId"]
            self.owned[ultimo_id] = Booking(ultimo_id, start, end)

    async def update(self, client: httpx.AsyncClient, key: str, booking: Booking) -> None:
        start = booking.start + timedelta(minutes=15 * self.rng.randrange(-4, 5))
        end = start + timedelta(minutes=15 * self.rng.randrange(1, 9))
        body = {"UltimoId": booking.ultimo_id, "StartTime": utc(start), "EndTime": utc(end)}
        if (await self.call(client, key, "REST_UpdateReservation", body)).status_code == 200:
            booking.start, booking.end = start, end

    async def cancel(self, client: httpx.AsyncClient, key: str, booking: Booking) -> None:
        response = await self.call(
            client, key, "REST_CancelReservation", {"UltimoId": booking.ultimo_id}
        )
        assert response.status_code == 200
        booking.cancelled = True


def test_random_creates_updates_and_cancels_keep_the_invariant(
    database_url: str, tmp_path: Path, make_world
) -> None:
    server = start_server(database_url, tmp_path, "--workers", WORKERS, command="serve")
    try:
        world: World = make_world(database_url)
        person = world.person()
        key = world.key()
        spaces = [world.space(prep=p, cleanup=c) for p, c in ((0, 0), (15, 0), (10, 20))]
        clients = [Client(random.Random(seed), spaces, person.id) for seed in range(16)]

        async def stress() -> None:
            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=server.base_url, timeout=120, limits=limits
            ) as client:
                await asyncio.gather(*(c.run(client, key, 25) for c in clients))

        asyncio.run(stress())

        expected = {b.ultimo_id: b for c in clients for b in c.owned.values()}
        with world.database.read() as conn:
            assert conn.execute(OVERLAPPING_BLOCKS).scalar_one() == 0
            rows = conn.execute(
                text("SELECT ultimo_id, start_time, end_time, status FROM reservations")
            ).all()
        stored = {f"{row.ultimo_id:011d}": row for row in rows}
        assert set(stored) == set(expected)
        for ultimo_id, booking in expected.items():
            row = stored[ultimo_id]
            assert row.status == ("Cancelled" if booking.cancelled else "Processed")
            assert (_utc(row.start_time), _utc(row.end_time)) == (booking.start, booking.end)
        total = sum(sum(c.answers.values()) for c in clients)
        assert total == 16 * 25
        assert sum(c.answers.get(200, 0) for c in clients) > 100  # a real mix, not all refusals
    finally:
        server.stop()


def _utc(value: datetime | str) -> datetime:
    """Read a stored instant (aware on PostgreSQL, UTC text on SQLite)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_postgresql_connections_stay_within_the_pool_size(tmp_path: Path, make_world) -> None:
    """Each worker holds at most ROOMLINE_DATABASE_POOL_SIZE connections; the rest wait."""
    import threading

    from sqlalchemy import create_engine

    from tests.support import fresh_database_url

    with fresh_database_url("postgresql", tmp_path) as url:
        server = start_server(
            url,
            tmp_path,
            "--workers",
            "2",
            command="serve",
            env={"ROOMLINE_DATABASE_POOL_SIZE": "3"},
        )
        try:
            world: World = make_world(url)
            person = world.person()
            key = world.key()
            spaces = [world.space() for _ in range(40)]
            bodies = [
                {
                    "SpaceId": s.id,
                    "StartTime": utc(DAY),
                    "EndTime": utc(DAY + timedelta(hours=1)),
                    "ApplicantId": person.id,
                }
                for s in spaces
                for _ in range(2)
            ]
            name = url.rsplit("/", 1)[1]
            watcher = create_engine(url.rsplit("/", 1)[0] + "/postgres")
            seen: list[int] = []
            done = threading.Event()

            def watch() -> None:
                with watcher.connect() as conn:
                    while not done.is_set():
                        seen.append(
                            conn.execute(
                                text(
                                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND backend_type = 'client backend'"
                                ),
                                {"name": name},
                            ).scalar_one()
                        )

            thread = threading.Thread(target=watch)
            thread.start()
            try:
                responses = asyncio.run(post_all(server.base_url, key, bodies))
            finally:
                done.set()
                thread.join()
                watcher.dispose()
            outcome = sorted((r.status_code, r.json().get("code", "created")) for r in responses)
            assert outcome == [(200, "created")] * 40 + [(400, "1015")] * 40
            # 2 workers x 3, plus the test's own World connection.
            assert max(seen) <= 2 * 3 + 1
        finally:
            server.stop()
