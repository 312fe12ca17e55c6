"""Graceful shutdown: SIGTERM lets requests in flight finish and refuses new connections.

The test makes requests slow without timing anything: it holds the database's write lock
itself (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE reservations``), so creates
wait inside the server. It sends them over raw sockets and watches the kernel's socket
table until the server has read every byte of them (the requests are in flight), then
sends SIGTERM, waits until a new connection is refused, checks that no in-flight request
has been answered yet, releases the lock, and expects a 200 for each one.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from roomline.config import Settings
from roomline.storage.tables import reservations
from tests.conftest import TEST_NOW, World
from tests.support import DEMO_KEY, ELEMENT_IDS, start_server

CREATE = "REST_CreateReservation"
IN_FLIGHT = 3
DEADLINE = 30.0  # seconds any awaited condition may take before the test gives up


@contextmanager
def write_lock_held(database_url: str) -> Iterator[Callable[[], None]]:
    """Hold the write lock creates need; yield the function that lets it go."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        sqlite = sqlite3.connect(str(url.database), isolation_level=None, timeout=30)
        sqlite.execute("BEGIN IMMEDIATE")
        try:
            yield lambda: sqlite.execute("ROLLBACK")
        finally:
            sqlite.close()
        return
    pg = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    pg.execute("LOCK TABLE reservations IN EXCLUSIVE MODE")  # inserts wait; reads do not
    try:
        yield pg.rollback
    finally:
        pg.close()


def raw_create(port: int, body: dict[str, str]) -> socket.socket:
    """Send a create request over a socket of its own and return the socket."""
    payload = json.dumps(body).encode()
    head = (
        f"POST /api/V1/Action/{CREATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nApiKey: {DEMO_KEY}\r\n"
        f"ApplicationElementId: {ELEMENT_IDS[CREATE]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    connection = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    connection.sendall(head.encode() + payload)
    return connection


def socket_queues(port: int) -> tuple[list[int], list[int]]:
    """Return the unread bytes of the server's connections on ``port`` and the unacknowledged
    bytes of the clients' connections to it, from the kernel's socket table."""
    server_side: list[int] = []
    client_side: list[int] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            tx_queue, rx_queue = (int(part, 16) for part in fields[4].split(":"))
            if state != "01":  # ESTABLISHED
                continue
            if int(local.rsplit(":", 1)[1], 16) == port:
                server_side.append(rx_queue)
            elif int(remote.rsplit(":", 1)[1], 16) == port:
                client_side.append(tx_queue)
    return server_side, client_side


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def refuses_connections(port: int) -> bool:
    try:
        probe = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    except ConnectionRefusedError:
        return True
    probe.close()
    return False


def read_response(connection: socket.socket) -> tuple[int, dict[str, object]]:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    connection.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_sigterm_finishes_requests_in_flight_and_refuses_new_ones(
    database_url: str, tmp_path: Path, make_world: Callable[[str], World]
) -> None:
    server = start_server(database_url, tmp_path, "--now", TEST_NOW)
    world = make_world(database_url)
    space = world.space(tz="UTC")
    port = int(server.base_url.rsplit(":", 1)[1])
    server.client.close()  # no idle keep-alive connection of ours in the socket table
    bodies = [
        {
            "SpaceId": space.id,
            "StartTime": f"2030-03-0{day}T10:00:00Z",
            "EndTime": f"2030-03-0{day}T11:00:00Z",
            "ApplicantId": "ULTIMO",
        }
        for day in range(1, IN_FLIGHT + 1)
    ]
    try:
        with write_lock_held(database_url) as release:
            connections = [raw_create(port, body) for body in bodies]

            def all_read_by_the_server() -> bool:
                server_side, client_side = socket_queues(port)
                return (
                    len(server_side) == IN_FLIGHT
                    and not any(server_side)
                    and len(client_side) == IN_FLIGHT
                    and not any(client_side)
                )

            wait_for(all_read_by_the_server, "the server to read the requests")
            server.process.send_signal(signal.SIGTERM)
            wait_for(lambda: refuses_connections(port), "new connections to be refused")
            unanswered, _, _ = select.select(connections, [], [], 0)
            assert unanswered == [], "a request in flight was answered before the lock was free"
            assert server.process.poll() is None, "the server quit with requests in flight"
            release()
            answers = [read_response(connection) for connection in connections]
        assert [status for status, _ in answers] == [200] * IN_FLIGHT, answers
        server.process.wait(timeout=DEADLINE)
    finally:
        server.stop()
    ids = sorted(int(body["Properties"]["UltimoId"]) for _, body in answers)  # type: ignore[index]
    with world.database.read() as conn:
        stored = conn.execute(
            sql_select(func.count())
            .select_from(reservations)
            .where(reservations.c.ultimo_id.in_(ids), reservations.c.space_id == space.id)
        ).scalar_one()
    assert stored == IN_FLIGHT
    assert "Shutting down" in server.log()


def test_the_default_grace_outlasts_the_longest_database_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROOMLINE_SHUTDOWN_GRACE_SECONDS", raising=False)
    assert Settings().shutdown_grace_seconds > Settings().database_wait_seconds
    monkeypatch.setenv("ROOMLINE_SHUTDOWN_GRACE_SECONDS", "60")
    assert Settings().shutdown_grace_seconds == 60
