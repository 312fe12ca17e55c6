"""``RateLimited`` from roomline's own limits: a shared rate limit and a key's daily quota."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roomline.cli import app
from roomline.client import NO_RETRY, RateLimited, RetryPolicy, UltimoClient, UltimoError
from tests.conftest import World
from tests.support import Server, start_server

WINDOW = ("2030-01-08 00:00:00", "2030-01-09 00:00:00")


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[Server]:
    server = start_server(
        database_url, tmp_path, command="serve", env={"ROOMLINE_RATE_LIMIT": "3/20 seconds"}
    )
    yield server
    server.stop()


def test_rate_limit_retries_honour_roomlines_retry_after(
    limited: Server, make_world: Callable[[str], World]
) -> None:
    world = make_world(limited.database_url)
    space, key = world.space(), world.key()
    waits: list[float] = []
    policy = RetryPolicy(attempts=3, max_delay=30, jitter=False)
    with UltimoClient(limited.base_url, key, retry=policy, sleep=waits.append) as client:
        for _ in range(3):
            assert client.get_reservations(space.id, *WINDOW) == []
        with pytest.raises(RateLimited) as limited_error:
            client.get_reservations(space.id, *WINDOW)
    error = limited_error.value
    assert (error.code, error.status_code) == ("TooManyRequests", 429)
    assert error.retry_after is not None and 0 < error.retry_after <= 20
    # The two retries each waited what roomline's Retry-After said (never slept here).
    assert len(waits) == 2 and all(0 < wait <= 20 for wait in waits)


def test_a_daily_quota_set_with_the_cli_is_enforced(
    database_url: str, tmp_path: Path, make_world: Callable[[str], World]
) -> None:
    server = start_server(database_url, tmp_path, command="serve")
    try:
        space = make_world(database_url).space()
        created = CliRunner().invoke(
            app,
            ["keys", "create", "--name", "one-a-day", "--daily-quota", "1"],
            env={"ROOMLINE_DATABASE_URL": database_url},
        )
        assert created.exit_code == 0, created.output
        secret = created.stdout.splitlines()[-1]
        with UltimoClient(server.base_url, secret, retry=NO_RETRY) as client:
            assert client.get_reservations(space.id, *WINDOW) == []
            with pytest.raises(RateLimited) as over:
                client.get_reservations(space.id, *WINDOW)
        assert isinstance(over.value, UltimoError)
        assert over.value.code == "TooManyRequests"
        # Until the next UTC midnight.
        assert over.value.retry_after is not None and 0 < over.value.retry_after <= 86400
    finally:
        server.stop()
