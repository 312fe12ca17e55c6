"""Concurrency and restarts: the no-overlap rule under a race, and data kept across restarts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import select

from roomline.storage.tables import reservations
from tests.compat.test_workflows import CREATE, GET, create_body, created_id
from tests.conftest import TEST_NOW, World
from tests.support import DEMO_KEY, ELEMENT_IDS, start_server

RACERS = 30


def race(base_url: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    """Send every body at once from its own thread and connection."""
    barrier = threading.Barrier(len(bodies))
    headers = {"ApiKey": DEMO_KEY, "ApplicationElementId": ELEMENT_IDS[CREATE]}

    def send(body: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            barrier.wait()
            return client.post(f"/api/V1/Action/{CREATE}", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_concurrent_creates_for_one_slot(database_url: str, tmp_path: Path, make_world) -> None:
    server = start_server(database_url, tmp_path, "--now", TEST_NOW)
    try:
        world: World = make_world(database_url)
        space = world.space(description="Race room")
        bodies = [
            create_body(
                space.id, "2030-03-01 10:00:00", "2030-03-01 11:00:00", ExternalId=f"racer-{n}"
            )
            for n in range(RACERS)
        ]
        responses = race(server.base_url, bodies)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [400] * (RACERS - 1)
        assert sorted(r.json().get("code", "ok") for r in responses) == ["1015"] * (RACERS - 1) + [
            "ok"
        ]
        with world.database.read() as conn:
            stored = (
                conn.execute(
                    select(reservations.c.ultimo_id).where(reservations.c.space_id == space.id)
                )
                .scalars()
                .all()
            )
        winner = next(r for r in responses if r.status_code == 200)
        assert stored == [int(winner.json()["Properties"]["UltimoId"])]
    finally:
        server.stop()


def test_restart_keeps_the_data_and_the_numbering(
    database_url: str, tmp_path: Path, make_world
) -> None:
    first = start_server(database_url, tmp_path, "--now", TEST_NOW)
    try:
        world: World = make_world(database_url)
        space = world.space()
        ultimo_id = created_id(
            first.call(CREATE, create_body(space.id, "2030-03-02 10:00:00", "2030-03-02 11:00:00"))
        )
    finally:
        first.stop()
    # A demo restart on an existing database keeps its data and its clock.
    second = start_server(database_url, tmp_path)
    try:
        window = {"SpaceId": space.id, "From": "2030-03-02 00:00:00", "Till": "2030-03-03 00:00:00"}
        [item] = second.call(GET, window).json()["properties"]["Output"]["collection"]
        assert item["UltimoId"] == ultimo_id
        again = created_id(
            second.call(CREATE, create_body(space.id, "2030-03-02 12:00:00", "2030-03-02 13:00:00"))
        )
        assert int(again) == int(ultimo_id) + 1
        clock = second.admin("GET", "/api/demo/clock").json()
        assert (clock["now"], clock["pinned"]) == ("2030-01-07T09:00:00Z", True)
    finally:
        second.stop()
