"""Tiny real HTTP servers for retry tests: one answers from a script, one fronts roomline.

They run in a thread on a free port and record every request, so tests can count tries.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Proxy only: pass the request on to roomline first, then answer this instead.
    forward_first: bool = False


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedServer:
    base_url: str
    requests: list[Recorded]


@contextmanager
def scripted(*answers: Answer, upstream: str | None = None) -> Iterator[ScriptedServer]:
    """Serve ``answers`` in order (the last one repeats); with ``upstream``, answers that
    are None are roomline's own, fetched from ``upstream``."""
    script = list(answers)
    requests: list[Recorded] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                requests.append(
                    Recorded(self.path, dict(self.headers.items()), json.loads(raw or b"null"))
                )
                answer = script.pop(0) if len(script) > 1 else script[0]
            if upstream is not None and (answer.forward_first or answer.status == 0):
                forwarded = httpx.post(
                    upstream + self.path,
                    content=raw,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=30,
                )
                if answer.status == 0:  # 0: answer exactly as roomline did
                    answer = Answer(forwarded.status_code, forwarded.json())
            payload = b"" if answer.body is None else _bytes(answer.body)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield ScriptedServer(f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _bytes(body: Any) -> bytes:
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


FORWARD = Answer(0)
