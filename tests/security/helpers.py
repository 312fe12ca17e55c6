"""Helpers for the security tests: keys with options, spread load, and the log's lines."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from roomline.services.keys import store_key
from roomline.storage.database import Database
from tests.support import ELEMENT_IDS, Server, start_server

REDIS_URL = os.environ.get("ROOMLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("ROOMLINE_TEST_REQUIRE_REDIS") == "1"
GET = "REST_GetReservationsForSpace"
# The demo data's space and a window the pinned test clock never makes a problem of.
DEMO_GET = {"SpaceId": "C-25", "From": "2021-06-13 12:00:00", "Till": "2021-06-14 13:00:00"}

_numbers = itertools.count(1)


def make_key(
    database_url: str,
    *,
    name: str | None = None,
    ip_allow: str | None = None,
    daily_quota: int | None = None,
) -> tuple[str, str]:
    """Store an API key directly in the server's database; return (name, secret)."""
    secret = uuid.uuid4().hex.upper()
    name = name or f"key-{next(_numbers)}-{secret[:6]}"
    database = Database(database_url)
    try:
        with database.write() as conn:
            store_key(
                conn,
                name=name,
                secret=secret,
                now=datetime.now(UTC),
                ip_allow=ip_allow,
                daily_quota=daily_quota,
            )
    finally:
        database.dispose()
    return name, secret


def get_headers(key: str, **extra: str) -> dict[str, str]:
    return {"ApiKey": key, "ApplicationElementId": ELEMENT_IDS[GET], **extra}


async def _post_all(
    base_url: str, keys: list[str], body: dict[str, str], parallel: int
) -> list[httpx.Response]:
    # No keep-alive: every request opens its own connection, so every worker takes part.
    limits = httpx.Limits(max_keepalive_connections=0)
    gate = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one(key: str) -> httpx.Response:
            async with gate:
                return await client.post(
                    f"/api/V1/Action/{GET}", json=body, headers=get_headers(key)
                )

        return await asyncio.gather(*(one(key) for key in keys))


def spread_gets(
    server: Server,
    key: str | list[str],
    count: int = 0,
    parallel: int = 8,
    body: dict[str, str] = DEMO_GET,
) -> list[httpx.Response]:
    """Send Gets ``parallel`` at a time, each on a new connection; answers in sending order.

    ``key`` is one key for ``count`` requests, or the keys of all requests in order.
    """
    keys = [key] * count if isinstance(key, str) else key
    return asyncio.run(_post_all(server.base_url, keys, body, parallel))


def pids_after_both_workers_answered(
    server: Server, answering: Callable[[dict[str, Any]], bool], send_more: Callable[[], None]
) -> set[int]:
    """The pids of the access lines ``answering`` picks, once two workers are among them.

    The kernel hands each new connection to whichever worker accepts first, and one
    worker may take a whole batch: until both have answered, call ``send_more`` (which
    checks its own answers), at most 20 times.
    """
    for _ in range(20):
        pids = {line["pid"] for line in access_lines(server) if answering(line)}
        if len(pids) == 2:
            break
        send_more()
    return {line["pid"] for line in access_lines(server) if answering(line)}


def access_lines(server: Server) -> list[dict[str, Any]]:
    """Return the server's per-request log lines (JSON), in order."""
    lines = []
    for line in server.log().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("logger") == "roomline.access":
            lines.append(entry)
    return lines


def redis_url_or_skip() -> str:
    """Return the test Redis URL; skip (or fail under ROOMLINE_TEST_REQUIRE_REDIS=1) without one."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.exceptions.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is not reachable: {exc}"
        if REQUIRE_REDIS:
            pytest.fail(f"ROOMLINE_TEST_REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    return REDIS_URL


def start_server_on_ipv6(database_url: str, log_dir: Path, *args: str) -> Server:
    """Start ``roomline demo`` listening on ``::1`` only; wait until /healthz answers there."""
    return start_server(database_url, log_dir, *args, host="::1")
