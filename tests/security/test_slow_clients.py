"""Clients that send their request headers slowly, or not at all, are disconnected.

Against a real server process over real sockets, with a header timeout of one second:
every slow connection must be closed by the server while the client still trickles
bytes, and a prompt client on the same server is answered as usual.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomline.config import Settings
from tests.support import Server, start_server

HEADER_TIMEOUT = 1
# Far longer than the timeout: a connection still open by then was never closed.
GIVE_UP_AFTER = 20.0


@pytest.fixture(params=["1", "2"], ids=["one worker", "two workers"])
def server(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        database_url,
        tmp_path,
        "--workers",
        request.param,
        command="serve",
        env={"ROOMLINE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)},
    )
    yield running
    running.stop()


def connect(server: Server) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=GIVE_UP_AFTER)


def closed_by_server(sock: socket.socket, trickle: bytes) -> bool:
    """Send ``trickle`` a byte every 0.2 s; return whether the server closed the connection
    (rather than answering) before GIVE_UP_AFTER."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() < deadline:
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except OSError:
                return True  # reset by the server
            sent += 1
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return True
        return data == b""
    return False


SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: roomline\r\nX-Slow: " + b"a" * 200


def test_slow_headers_are_cut_off(server: Server) -> None:
    """Silent and trickling connections, twenty at once, are all closed."""
    results: list[bool] = []

    def one(trickle: bytes) -> None:
        with connect(server) as sock:
            results.append(closed_by_server(sock, trickle))

    threads = [
        threading.Thread(target=one, args=(b"" if number % 2 else SLOW_HEADERS,))
        for number in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 20
    assert server.client.get("/healthz").status_code == 200


def test_a_later_request_on_a_kept_alive_connection_is_timed_too(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: roomline\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # the whole answer, its JSON body too
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert closed_by_server(sock, SLOW_HEADERS)


def test_the_header_timeout_defaults_to_ten_seconds() -> None:
    assert Settings().header_timeout_seconds == 10
