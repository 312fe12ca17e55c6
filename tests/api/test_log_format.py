"""The log's format: readable text on a terminal, JSON elsewhere, ROOMLINE_LOG_FORMAT first.

The terminal is a real pseudo-terminal holding the server's standard error. SQLite only:
the format does not depend on the database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_until_ready


def serve_and_read_the_log(tmp_path: Path, *, terminal: bool, env: dict[str, str]) -> list[str]:
    """Run ``roomline serve``, ask for /nowhere, stop it; return what it wrote to stderr."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
    environment.update(env)
    port = free_port()
    command = [sys.executable, "-m", "roomline", "serve", "--port", str(port)]
    command += ["--database-url", f"sqlite:///{tmp_path / 'log.db'}"]
    if terminal:
        reading, writing = os.openpty()
    else:
        reading, writing = os.pipe()
    process = subprocess.Popen(command, stderr=writing, stdout=subprocess.DEVNULL, env=environment)
    os.close(writing)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(reading, 65536)
            except OSError:  # a pseudo-terminal whose other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process)  # type: ignore[arg-type]
        assert httpx.get(f"http://127.0.0.1:{port}/nowhere").status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=30)
        os.close(reading)
    return b"".join(chunks).decode().replace("\r\n", "\n").splitlines()


def request_line(lines: list[str]) -> str:
    [line] = [line for line in lines if "/nowhere" in line]
    return line


@pytest.mark.parametrize(
    ("terminal", "env", "text"),
    [
        pytest.param(True, {}, True, id="a terminal: text"),
        pytest.param(False, {}, False, id="not a terminal: JSON"),
        pytest.param(True, {"ROOMLINE_LOG_FORMAT": "json"}, False, id="a terminal told json"),
        pytest.param(False, {"ROOMLINE_LOG_FORMAT": "text"}, True, id="a pipe told text"),
    ],
)
def test_the_log_format_follows_the_terminal_unless_told(
    tmp_path: Path, terminal: bool, env: dict[str, str], text: bool
) -> None:
    lines = serve_and_read_the_log(tmp_path, terminal=terminal, env=env)
    line = request_line(lines)
    if text:
        assert all(not entry.startswith("{") for entry in lines), lines
        # time, level, logger, what happened, then only what the message does not say
        assert " INFO roomline.access GET /nowhere 404 " in line
        assert "ms request_id=" in line and " client=127.0.0.1" in line
        assert "path=" not in line and "status=" not in line
    else:
        entries = [json.loads(entry) for entry in lines]
        entry = json.loads(line)
        assert (entry["logger"], entry["path"], entry["status"]) == (
            "roomline.access",
            "/nowhere",
            404,
        )
        assert {"uvicorn.error", "roomline.access"} <= {e["logger"] for e in entries}
