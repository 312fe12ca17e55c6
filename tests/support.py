"""Test helpers: databases of either kind, real server processes, and a wire client."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

DEMO_KEY = "FC1555BA3F5C4C329155B5ADAC2E8AB0"
ADMIN_TOKEN = "test-admin-token"
PG_ADMIN_URL = os.environ.get(
    "ROOMLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("ROOMLINE_TEST_REQUIRE_PG") == "1"

ELEMENT_IDS = {
    "REST_CreateReservation": "0167a94a-5dae-4efe-bf13-029a47728b97",
    "REST_UpdateReservation": "3736d834-fa5e-4edc-9abd-f38962ff8afd",
    "REST_CancelReservation": "5d5a10ee-7b14-4dd4-8683-33822ea56f12",
    "REST_GetReservationsForSpace": "860ea091-4d76-47d9-a733-c3bb18440dde",
}


# Servers get ports below Linux's ephemeral range (32768 and up), one slice per xdist
# worker. A port the kernel hands out for port 0 can be handed to the other worker too
# while our server is still importing; that server then answered our /healthz and the
# test ran against it with our (empty) database.
_PORT_SLICE = 2000
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_ports = itertools.cycle(range(20000 + _WORKER * _PORT_SLICE, 20000 + (_WORKER + 1) * _PORT_SLICE))
for _ in range(os.getpid() % _PORT_SLICE):  # two test runs at once start apart
    next(_ports)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now and no other test worker hands out."""
    for _ in range(_PORT_SLICE):
        port = next(_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in this test worker's slice")


def roomline(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``roomline`` command in ``cwd`` with no ``ROOMLINE_*`` variables but ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "roomline", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def postgres_available() -> str | None:
    """Return None if PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except (OperationalError, ImportError) as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {str(exc).splitlines()[0]}"


def require_postgres() -> None:
    """Skip (or, with ROOMLINE_TEST_REQUIRE_PG=1, fail) when PostgreSQL is missing."""
    reason = postgres_available()
    if reason is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"ROOMLINE_TEST_REQUIRE_PG=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database of ``backend``; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'roomline-{uuid.uuid4().hex[:8]}.db'}"
        return
    require_postgres()
    name = f"roomline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Server:
    """A real roomline process and an HTTP client for it."""

    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def call(
        self,
        workflow: str,
        body: Any,
        *,
        key: str | None = DEMO_KEY,
        element_id: bool = True,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> httpx.Response:
        """POST ``body`` (JSON, or raw bytes/str) to a workflow, as a client would."""
        sent: dict[str, str] = {}
        if key is not None:
            sent["ApiKey"] = key
        if element_id and workflow in ELEMENT_IDS:
            sent["ApplicationElementId"] = ELEMENT_IDS[workflow]
        sent.update(headers or {})
        url = path or f"/api/V1/Action/{workflow}"
        if isinstance(body, bytes | str):
            sent.setdefault("Content-Type", "application/json")
            return self.client.post(url, content=body, headers=sent)
        return self.client.post(url, json=body, headers=sent)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def set_clock(self, now: str) -> None:
        response = self.admin("PUT", "/api/demo/clock", json={"now": now})
        assert response.status_code == 200, response.text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    database_url: str,
    log_dir: Path,
    *args: str,
    command: str = "demo",
    env: dict[str, str] | None = None,
    ready_timeout: float = 180.0,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Server:
    """Start ``roomline <command>`` on ``port`` (default: a free one) of ``host``; wait
    until /healthz answers."""
    port = port or free_port()
    log_path = log_dir / f"server-{port}.log"
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("ROOMLINE_")
    }
    environment.update(
        {
            "ROOMLINE_ADMIN_TOKEN": ADMIN_TOKEN,
            # Tests that a wrong token is refused send many from one address to one server;
            # tests/security/test_admin_access.py checks the throttle at its own limit.
            "ROOMLINE_FAILED_SIGN_IN_LIMIT": "10000/minute",
            "PYTHONUNBUFFERED": "1",
        }
    )
    environment.update(env or {})
    command_line = [sys.executable, "-m", "roomline", command, "--host", host, "--port", str(port)]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*command_line, "--database-url", database_url, *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    wait_until_ready(base_url, process, ready_timeout, log_path)
    return Server(base_url, database_url, process, log_path)


def wait_until_ready(
    base_url: str,
    process: subprocess.Popen[bytes],
    # Generous: on a loaded 2-core machine, several workers importing at once take long.
    timeout: float = 180.0,
    log_path: Path | None = None,
) -> None:
    """Wait until ``base_url``/healthz answers 200; fail if the process exits or hangs."""

    def log() -> str:
        return log_path.read_text(errors="replace") if log_path else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become ready:\n{log()}")
