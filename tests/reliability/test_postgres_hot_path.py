"""The PostgreSQL hot path (storage/pg_hot.py) when the database is busy or goes away.

A pool with no free connection and a database that does not answer are 503 with
Retry-After, never "too many clients" nor a 500; and after a PostgreSQL restart requests
recover by themselves. The restart uses a PostgreSQL server of the test's own (initdb,
pg_ctl), so the shared one other tests use stays up.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from roomline.compat.ultimo.wire import CREATE, GET
from tests.conftest import TEST_NOW
from tests.security.helpers import DEMO_GET
from tests.support import (
    DEMO_KEY,
    ELEMENT_IDS,
    REQUIRE_PG,
    Server,
    free_port,
    fresh_database_url,
    start_server,
)

BUSY = {"ROOMLINE_DATABASE_POOL_SIZE": "1", "ROOMLINE_DATABASE_WAIT_SECONDS": "1"}
CREATE_BODY = {
    "SpaceId": "C-25",
    "StartTime": "2030-01-08 10:00:00",
    "EndTime": "2030-01-08 11:00:00",
    "ApplicantId": "ULTIMO",
    "Description": "after the restart",
}


def _gets(server: Server, count: int) -> list[httpx.Response]:
    """``count`` Gets at once, each on its own connection."""

    async def send() -> list[httpx.Response]:
        headers = {"ApiKey": DEMO_KEY, "ApplicationElementId": ELEMENT_IDS[GET]}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            calls = [
                client.post(f"/api/V1/Action/{GET}", json=DEMO_GET, headers=headers)
                for _ in range(count)
            ]
            return list(await asyncio.gather(*calls))

    return asyncio.run(send())


def _booking_reads(server: Server) -> list[httpx.Response]:
    """Three of roomline's own reads on the hot paths: a schedule, the change feed and
    its long poll's first page."""
    headers = {"ApiKey": DEMO_KEY}
    window = {"start": "2030-01-08T00:00:00", "end": "2030-01-09T00:00:00"}
    return [
        server.client.get(
            "/api/booking/schedule", params={"spaces": "C-25", **window}, headers=headers
        ),
        server.client.get("/api/booking/free-spaces", params=window, headers=headers),
        server.client.get("/api/booking/changes", params={"limit": 5}, headers=headers),
    ]


def _assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"].isdigit()
    body = answer.json()
    assert body["code"] == "ServiceUnavailable"
    assert "too many clients" not in answer.text


def test_a_busy_pool_answers_503_with_retry_after(tmp_path: Path) -> None:
    with fresh_database_url("postgresql", tmp_path) as url:
        server = start_server(url, tmp_path, "--now", TEST_NOW, env=BUSY)
        holder = create_engine(url)
        try:
            assert server.call(GET, DEMO_GET).status_code == 200  # the pool's one connection
            with holder.connect() as conn, conn.begin():
                # Every Get reads the space: this holds the pool's connection for the whole
                # wait, and the other Gets wait for it.
                conn.execute(text("LOCK TABLE spaces IN ACCESS EXCLUSIVE MODE"))
                answers = _gets(server, 6)
            for answer in answers:
                _assert_unavailable(answer)
            messages = {answer.json()["message"] for answer in answers}
            assert "Every database connection of this worker is busy; retry shortly." in messages
            after = _gets(server, 6)
            assert [answer.status_code for answer in after] == [200] * 6
        finally:
            holder.dispose()
            server.stop()


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Path, int]]:
    """A PostgreSQL server of this test's own: (URL, data directory, port)."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not binaries or os.geteuid() != 0 or shutil.which("runuser") is None:
        reason = "needs PostgreSQL's pg_ctl and root (to run it as the postgres user)"
        if REQUIRE_PG:
            pytest.fail(f"ROOMLINE_TEST_REQUIRE_PG=1 but this test {reason}")
        pytest.skip(reason)
    bin_dir = binaries[-1].parent
    # Outside pytest's folders, which the postgres user may not enter.
    home = Path(tempfile.mkdtemp(prefix="roomline-postgres-"))
    shutil.chown(home, "postgres", "postgres")
    data = home / "data"
    port = free_port()
    try:
        _as_postgres(bin_dir / "initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
        control = _controller(bin_dir, data, port)
        try:
            control("start")
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres", data, port
        finally:
            control("stop", "-m", "immediate")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _as_postgres(*command: str | Path) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, command)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _controller(bin_dir: Path, data: Path, port: int):  # type: ignore[no-untyped-def]
    def control(action: str, *options: str) -> None:
        # -l: the server's own output goes to a file, not to the pipe this test reads.
        log = data.parent / "server.log"
        arguments = [
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-o",
            f"-p {port} -k {data} -h 127.0.0.1",
        ]
        _as_postgres(bin_dir / "pg_ctl", action, *arguments, *options)

    return control


def test_requests_fail_cleanly_while_postgresql_restarts_and_recover_by_themselves(
    own_postgres: tuple[str, Path, int], tmp_path: Path
) -> None:
    url, data, port = own_postgres
    control = _controller(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1], data, port)
    server = start_server(url, tmp_path, "--now", TEST_NOW)
    try:
        assert server.call(GET, DEMO_GET).status_code == 200
        assert [answer.status_code for answer in _booking_reads(server)] == [200, 200, 200]
        control("stop", "-m", "fast")
        while_down = [
            server.call(GET, DEMO_GET),
            server.call(CREATE, CREATE_BODY),
            *_booking_reads(server),
        ]
        for answer in while_down:
            _assert_unavailable(answer)
        control("start")
        # The pool's connections died with the server: each is replaced on its next use.
        deadline = time.monotonic() + 60
        answer = server.call(GET, DEMO_GET)
        while answer.status_code != 200 and time.monotonic() < deadline:
            _assert_unavailable(answer)
            time.sleep(0.2)
            answer = server.call(GET, DEMO_GET)
        assert answer.status_code == 200, answer.text
        created = server.call(CREATE, CREATE_BODY)
        assert created.status_code == 200, created.text
        ultimo_id = int(created.json()["Properties"]["UltimoId"])
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(
                    text("SELECT description FROM reservations WHERE ultimo_id = :id"),
                    {"id": ultimo_id},
                ).scalar_one()
        finally:
            engine.dispose()
        assert stored == "after the restart"
        after = _booking_reads(server)
        assert [answer.status_code for answer in after] == [200, 200, 200], after[0].text
        assert after[0].json()["schedules"][0]["items"][0]["description"] == "after the restart"
    finally:
        server.stop()


def test_a_database_that_accepts_but_never_answers_is_503_after_the_wait() -> None:
    """A free connection is taken without a timer of its own, so opening one must be
    bounded by the pool itself: a server that accepts the connection and then says
    nothing (a hung host, a black-holing firewall) costs a request ``wait_seconds``, not
    asyncpg's default minute."""
    from roomline.domain.errors import ServiceUnavailable
    from roomline.storage.pg_hot import PgPool

    async def scenario() -> None:
        held: list[asyncio.StreamWriter] = []

        async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)  # accepted, never answered

        listener = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        pool = PgPool(f"postgresql://postgres@127.0.0.1:{port}/silent", 2, 1.0)
        try:
            with pytest.raises(ServiceUnavailable, match="does not answer"):
                # The guard: without the pool's own bound this waits 60 s.
                await asyncio.wait_for(pool.fetch("SELECT 1"), timeout=10)
        finally:
            await pool.close()
            for writer in held:
                writer.close()
            listener.close()

    asyncio.run(scenario())


def test_the_pool_gauge_counts_checked_out_connections_within_a_second(tmp_path: Path) -> None:
    """PostgreSQL's hot path tells ``roomline_db_pool_connections_in_use`` its count once a
    second rather than twice a request; it still adds up with what else the gauge counts."""
    from roomline import metrics
    from roomline.storage.pg_hot import PgPool

    def gauge() -> float:
        return metrics.POOL_IN_USE._value.get()  # type: ignore[attr-defined,no-any-return]

    async def scenario(url: str) -> list[float]:
        pool = PgPool(url, 3, 5.0)
        seen = [gauge()]
        try:
            async with pool.connection() as first, pool.connection() as second:
                assert await first.fetchval("SELECT 1") == await second.fetchval("SELECT 1")
                await asyncio.sleep(1.5)
                seen.append(gauge())
            await asyncio.sleep(1.5)
            seen.append(gauge())
        finally:
            await pool.close()
        return seen

    with fresh_database_url("postgresql", tmp_path) as url:
        before, holding_two, after = asyncio.run(scenario(url))
    assert (holding_two - before, after - before) == (2, 0)
