"""A real webhook receiver for tests: an HTTP server in a thread of the test process.

It answers from a script (status, headers, body per request; 200 once the script runs
out), can hold requests open, and keeps every request it got.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hold_seconds: float = 0.0  # keep the request open this long before answering


@dataclass
class Receiver:
    url: str
    script: list[Answer]
    received: list[Received] = field(default_factory=list)
    started: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` requests were answered; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests arrived, not {count}")

    def wait_started(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.started) >= count:
                    return
            time.sleep(0.02)
        raise AssertionError(f"{len(self.started)} requests started, not {count}")

    def accepted(self) -> list[Received]:
        with self.lock:
            return [one for one in self.received if 200 <= one.status < 300]


@contextmanager
def running_receiver(*script: Answer) -> Iterator[Receiver]:
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            assert receiver is not None
            headers = {key.lower(): value for key, value in self.headers.items()}
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.lock:
                receiver.started.append(headers)
                answer = receiver.script.pop(0) if receiver.script else Answer()
            time.sleep(answer.hold_seconds)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                return  # the sender went away (killed) while this request was held
            with receiver.lock:
                receiver.received.append(Received(headers, body, answer.status))

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # a sender's whole batch connects at once

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", list(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
