"""``check_in`` / ``end_early`` / ``extend`` of the sync and async clients against a real
server (clock pinned at TEST_NOW, 10:00 in Amsterdam), on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from roomline.client import SpaceNotAvailable, UltimoClient, UltimoError
from tests.client.test_client import AsyncAsSync
from tests.conftest import TEST_NOW, World
from tests.support import DEMO_KEY, Server

NOW = datetime.fromisoformat(TEST_NOW.replace("Z", "+00:00"))


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, server: Server) -> Any:
    if request.param == "sync":
        made = UltimoClient(server.base_url, DEMO_KEY)
        request.addfinalizer(made.close)
        return made
    return AsyncAsSync(server.base_url, DEMO_KEY)


def test_check_in_extend_and_end_early(client: Any, world: World) -> None:
    space = world.space(prep=10, cleanup=5, check_in_required=True)
    number = world.reservation(space, NOW - timedelta(minutes=5), NOW + timedelta(minutes=30))
    following = world.reservation(space, NOW + timedelta(hours=1), NOW + timedelta(hours=2))

    checked = client.check_in(number)
    assert checked.checked_in_at == NOW
    assert checked.checked_in_by == "demo"
    assert client.check_in(f"{number:011d}") == checked

    extended = client.extend(number, 15)
    assert extended.end == NOW + timedelta(minutes=45)
    with pytest.raises(SpaceNotAvailable) as refused:
        client.extend(number, 15)
    assert refused.value.details == [
        {
            "next_ultimo_id": f"{following:011d}",
            "next_start": "2030-01-07T11:00:00+01:00",
            "next_start_including_preparation": "2030-01-07T10:50:00+01:00",
            "free_until": "2030-01-07T10:45:00+01:00",
        }
    ]

    ended = client.end_early(number)
    assert (ended.end, ended.ended_at, ended.blocked_end) == (
        NOW,
        NOW,
        NOW + timedelta(minutes=5),
    )
    with pytest.raises(UltimoError) as not_running:
        client.end_early(following)
    assert not_running.value.code == "ReservationNotRunning"
    with pytest.raises(UltimoError) as not_open:
        client.check_in(following)
    assert not_open.value.code == "CheckInNotOpen"
    assert not_open.value.details == [{"opens_at": "2030-01-07T10:45:00+01:00"}]
