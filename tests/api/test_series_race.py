"""Two series racing for the same slots on two worker processes never both get a slot,
on both databases (``serve --workers 2``)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from roomline.storage.tables import reservations
from tests.compat.test_cross_process import DAY, OVERLAPPING_BLOCKS
from tests.conftest import World
from tests.security.helpers import pids_after_both_workers_answered
from tests.support import Server, start_server

PAIRS = 6
WEEKS = 6
r = reservations.c


def racing_bodies(world: World, person: str, rng: random.Random) -> list[dict[str, Any]]:
    """For each of PAIRS spaces, two weekly series overlapping in four of six weeks, each
    with a policy of its own."""
    bodies = []
    for _ in range(PAIRS):
        space = world.space(prep=10, tz="UTC")
        for first_week in (0, 2):
            start = DAY.replace(hour=10) + timedelta(weeks=first_week)
            bodies.append(
                {
                    "space_id": space.id,
                    "applicant_id": person,
                    "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "rrule": f"FREQ=WEEKLY;COUNT={WEEKS}",
                    "on_conflict": rng.choice(["fail", "skip"]),
                }
            )
    return bodies


async def post_all(server: Server, key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """Send every body at once, each on its own connection so both workers take part."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/api/booking/series", json=b, headers={"ApiKey": key}) for b in bodies)
        )


def check_race(world: World, bodies: list[dict[str, Any]], answers: list[httpx.Response]) -> None:
    """Every slot went to at most one series, and what was answered is what is stored."""
    answered: dict[str, set[int]] = {}
    for body, answer in zip(bodies, answers, strict=True):
        if answer.status_code == 201:
            booked = {int(o["ultimo_id"]) for o in answer.json()["occurrences"]}
            answered.setdefault(body["space_id"], set()).update(booked)
            if body["on_conflict"] == "fail":
                assert len(booked) == WEEKS, answer.text
        else:
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "1015"
            assert answer.json()["details"], answer.text
    with world.database.read() as conn:
        assert conn.execute(OVERLAPPING_BLOCKS).scalar_one() == 0
        for space_id in {body["space_id"] for body in bodies}:
            active = conn.execute(
                select(r.ultimo_id).where(r.space_id == space_id, r.status == "Processed")
            ).scalars()
            assert set(active) == answered.get(space_id, set())
            assert space_id in answered  # one of the two always gets its first slots


def test_two_series_for_the_same_slots_on_two_workers(
    database_url: str, tmp_path: Path, make_world
) -> None:
    server = start_server(database_url, tmp_path, "--workers", "2", command="serve")
    try:
        world: World = make_world(database_url)
        person = world.person().id
        key = world.key()
        rng = random.Random(16)

        def race() -> None:
            bodies = racing_bodies(world, person, rng)
            check_race(world, bodies, asyncio.run(post_all(server, key, bodies)))

        race()
        workers = pids_after_both_workers_answered(
            server, lambda line: line["path"] == "/api/booking/series", race
        )
        assert len(workers) == 2, f"expected both workers to answer, got pids {workers}"
    finally:
        server.stop()
