"""Request limits through the real server (SPEC §5): Ultimo's preset, quotas, body size.

Rate limits are moving windows, so "the 101st request within 10 seconds" is refused
exactly; the requests here take well under a second. Limits count in the database (both
kinds) or in Redis, and hold when the load is spread over two worker processes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

from roomline.storage.database import Database
from roomline.storage.tables import quota_counters, rate_limit_hits
from tests.conftest import TEST_NOW, World
from tests.security.helpers import (
    DEMO_GET,
    GET,
    get_headers,
    make_key,
    pids_after_both_workers_answered,
    redis_url_or_skip,
    spread_gets,
)
from tests.support import DEMO_KEY, Server, start_server

TWO_MB = 2 * 1024 * 1024


def too_many(describes: str, response: httpx.Response) -> dict[str, str]:
    """The 429 body for ``describes``, with the Retry-After the response announced."""
    retry = int(response.headers["Retry-After"])
    return {
        "message": f"Too many requests: the limit of {describes} is reached; "
        f"retry after {retry} seconds.",
        "type": "3",
        "code": "TooManyRequests",
    }


def counted_rows(database_url: str) -> tuple[int, int]:
    database = Database(database_url)
    try:
        with database.read() as conn:
            hits = conn.execute(select(func.count()).select_from(rate_limit_hits)).scalar_one()
            days = conn.execute(select(func.count()).select_from(quota_counters)).scalar_one()
        return hits, days
    finally:
        database.dispose()


@pytest.fixture
def preset_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """``roomline serve --ultimo-quotas``: Ultimo's documented quotas, on the real clock."""
    running = start_server(database_url, tmp_path, "--ultimo-quotas", command="serve")
    yield running
    running.stop()


def test_ultimo_preset_refuses_the_101st_request_within_10_seconds(
    preset_server: Server, make_world: Callable[[str], World]
) -> None:
    world = make_world(preset_server.database_url)
    space = world.space()
    first, second = world.key(), world.key()
    window = {"SpaceId": space.id, "From": "2035-01-01 00:00:00", "Till": "2035-01-02 00:00:00"}
    empty = {"properties": {"Output": {"collection": []}}}
    # 100 requests from two keys: the limit is for all keys combined. Sent 8 at a time,
    # so that all 101 fit well inside the 10-second window even on a slow machine.
    started = time.monotonic()
    answers = spread_gets(preset_server, [first] * 60 + [second] * 40, body=window)
    assert [(a.status_code, a.json()) for a in answers] == [(200, empty)] * 100

    refused = preset_server.call(GET, window, key=first)
    took = time.monotonic() - started
    assert refused.status_code == 429, f"101 requests took {took:.1f} s (the window is 10 s)"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.json() == too_many(
        "100 requests per 10 seconds for all API keys combined", refused
    )
    other_key = preset_server.call(GET, window, key=second)
    assert other_key.status_code == 429
    # Refused requests record nothing; the day's count is the 100 that were answered.
    assert counted_rows(preset_server.database_url) == (100, 1)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_2_mb_body_answers_413_without_being_read(
    preset_server: Server, make_world: Callable[[str], World], framing: str
) -> None:
    key = make_world(preset_server.database_url).key()
    payload = b'{"SpaceId": "' + b"x" * TWO_MB + b'"}'
    content: bytes | Iterator[bytes] = payload
    if framing == "chunked":
        content = (payload[i : i + 65536] for i in range(0, len(payload), 65536))
    response = preset_server.client.post(
        f"/api/V1/Action/{GET}",
        content=content,
        headers={**get_headers(key), "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (
        413,
        {
            "message": "The request body is larger than 1000000 bytes.",
            "type": "3",
            "code": "PayloadTooLarge",
        },
    )
    # Refused before the key was even looked at: nothing was counted.
    assert counted_rows(preset_server.database_url) == (0, 0)


@pytest.fixture
def demo_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        database_url, tmp_path, "--now", TEST_NOW, env={"ROOMLINE_KEY_RATE_LIMIT": "2/hour"}
    )
    yield running
    running.stop()


def test_a_key_rate_limit_counts_each_key_on_its_own(demo_server: Server) -> None:
    _, first = make_key(demo_server.database_url)
    _, second = make_key(demo_server.database_url)
    assert [demo_server.call(GET, DEMO_GET, key=first).status_code for _ in range(2)] == [200] * 2
    refused = demo_server.call(GET, DEMO_GET, key=first)
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert refused.json() == too_many("2 requests per hour for this API key", refused)
    assert [demo_server.call(GET, DEMO_GET, key=second).status_code for _ in range(2)] == [200] * 2


def test_a_key_daily_quota_refuses_the_request_after_it(demo_server: Server) -> None:
    _, limited = make_key(demo_server.database_url, daily_quota=1)
    assert demo_server.call(GET, DEMO_GET, key=limited).status_code == 200
    refused = demo_server.call(GET, DEMO_GET, key=limited)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400  # until the next UTC midnight
    assert refused.json() == too_many("1 requests per day for this API key", refused)
    # Other keys keep their own counts.
    assert demo_server.call(GET, DEMO_GET, key=DEMO_KEY).status_code == 200


def test_without_limits_nothing_is_counted(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, tmp_path, "--now", TEST_NOW)
    try:
        assert {server.call(GET, DEMO_GET).status_code for _ in range(20)} == {200}
        assert counted_rows(database_url) == (0, 0)
    finally:
        server.stop()


def assert_limit_held_by_two_workers(server: Server, key: str, limit: int, sent: int) -> None:
    answers = spread_gets(server, key, sent)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * limit + [429] * (sent - limit)

    def refused_batch() -> None:  # the spent limit refuses whatever comes after
        assert {answer.status_code for answer in spread_gets(server, key, 20)} == {429}

    served_by = pids_after_both_workers_answered(
        server, lambda line: line["workflow"] == GET, refused_batch
    )
    assert len(served_by) == 2, f"expected both workers to answer, got pids {served_by}"


def test_limits_hold_across_two_workers(database_url: str, tmp_path: Path) -> None:
    server = start_server(
        database_url,
        tmp_path,
        "--now",
        TEST_NOW,
        "--workers",
        "2",
        env={"ROOMLINE_RATE_LIMIT": "40/hour", "ROOMLINE_DAILY_QUOTA": "1000"},
    )
    try:
        assert_limit_held_by_two_workers(server, DEMO_KEY, limit=40, sent=70)
        assert counted_rows(database_url) == (40, 1)
    finally:
        server.stop()


def test_limits_hold_across_two_workers_in_redis(tmp_path: Path) -> None:
    redis_url = redis_url_or_skip()
    prefix = f"roomline-test-{uuid.uuid4().hex[:12]}"
    database_url = f"sqlite:///{tmp_path / 'redis-limits.db'}"
    server = start_server(
        database_url,
        tmp_path,
        "--now",
        TEST_NOW,
        "--workers",
        "2",
        "--redis-url",
        redis_url,
        env={"ROOMLINE_RATE_LIMIT": "40/hour", "ROOMLINE_REDIS_PREFIX": prefix},
    )
    store = redis.Redis.from_url(redis_url)
    try:
        assert_limit_held_by_two_workers(server, DEMO_KEY, limit=40, sent=70)
        assert counted_rows(database_url) == (0, 0)  # counted in Redis, not the database
        assert store.keys(f"{prefix}:*") != []
    finally:
        server.stop()
        for name in store.scan_iter(f"{prefix}:*"):
            store.delete(name)
        store.close()


def test_limits_hold_across_two_hosts_on_one_database(database_url: str, tmp_path: Path) -> None:
    env = {"ROOMLINE_RATE_LIMIT": "30/hour"}
    first = start_server(database_url, tmp_path, "--now", TEST_NOW, env=env)
    try:
        second = start_server(database_url, tmp_path, "--now", TEST_NOW, env=env)
        try:
            statuses = [
                server.call(GET, DEMO_GET).status_code
                for _ in range(20)
                for server in (first, second)
            ]
        finally:
            second.stop()
    finally:
        first.stop()
    assert statuses == [200] * 30 + [429] * 10


CONCURRENT_GETS = 200


@pytest.mark.parametrize(
    ("args", "env", "quota"),
    [
        # Ultimo's preset, its rate raised so that all 200 may pass: both its counters run.
        (("--ultimo-quotas",), {"ROOMLINE_RATE_LIMIT": "1000/10 seconds"}, None),
        ((), {}, 1000),  # a per-key daily quota
    ],
    ids=["ultimo-quotas", "per-key-quota"],
)
def test_concurrent_gets_with_limits_all_answer(
    database_url: str,
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    quota: int | None,
) -> None:
    # Before the fix (PostgreSQL): each Get held a pooled connection for its read while
    # the limiter waited for another; ten of them took the pool of ten, and the requests
    # waited 30 s for the pool and answered 503.
    server = start_server(database_url, tmp_path, "--now", TEST_NOW, *args, env=env)
    try:
        _, key = make_key(database_url, daily_quota=quota)
        answers = spread_gets(server, key, CONCURRENT_GETS, parallel=CONCURRENT_GETS)
        assert [answer.status_code for answer in answers] == [200] * CONCURRENT_GETS
        hits, days = counted_rows(database_url)
        assert (hits, days) == ((CONCURRENT_GETS, 1) if quota is None else (0, 1))
    finally:
        server.stop()
