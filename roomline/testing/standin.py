"""A stand-in Ultimo for integrators' tests: a ``roomline demo`` process and its controls.

``StandInServer`` starts and stops the process; ``UltimoStandIn`` drives one running
demo over plain HTTP (the same calls docs/testing-integrations.md shows with curl), so it
works against any demo, also one started by hand. The pytest plugin
(``roomline.testing.plugin``) wires the two into the ``ultimo_standin`` fixture.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from roomline.client import DOCUMENTED_APPLICATION_ELEMENT_IDS, UltimoClient

PLAYGROUND_API_KEY = "FC1555BA3F5C4C329155B5ADAC2E8AB0"
READY_TIMEOUT_SECONDS = 120.0


class StandInError(RuntimeError):
    """The stand-in did not start, or refused a control call."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StandInServer:
    """A running ``roomline demo`` process on a free port of 127.0.0.1."""

    base_url: str
    admin_token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    fixture: Path | None = None

    @classmethod
    def start(
        cls,
        fixture: str | Path | None = None,
        *,
        workers: int = 1,
        extra_args: tuple[str, ...] = (),
        ready_timeout: float = READY_TIMEOUT_SECONDS,
    ) -> StandInServer:
        """Start a demo (with ``fixture``, if given) on a fresh temporary database."""
        port = _free_port()
        token = secrets.token_urlsafe(24)
        log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the process writes it
            prefix="ultimo-standin-", suffix=".log", delete=False
        )
        # A clean environment: ROOMLINE_* settings of the caller (a database URL above
        # all) must not leak into the stand-in.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
        environment.update({"ROOMLINE_ADMIN_TOKEN": token, "PYTHONUNBUFFERED": "1"})
        command = [sys.executable, "-m", "roomline", "demo", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers), *extra_args]
        if fixture is not None:
            command += ["--fixture", str(fixture)]
        with log_file:
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=environment
            )
        server = cls(
            f"http://127.0.0.1:{port}",
            token,
            process,
            Path(log_file.name),
            Path(fixture) if fixture is not None else None,
        )
        server.wait_until_ready(ready_timeout)
        return server

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StandInError(f"the stand-in did not start:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise StandInError(f"the stand-in did not answer within {timeout:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)


class _Controls:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, f"/api/demo{path}", **kwargs)
        if response.status_code >= 400:
            raise StandInError(
                f"{method} /api/demo{path} answered {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None


class Clock(_Controls):
    """The demo clock: ``set`` pins it, ``advance`` moves it forward."""

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/clock")["now"])

    def set(self, when: datetime | str) -> datetime:
        """Pin the clock at ``when`` (an aware datetime, or ISO 8601 text with Z or an offset)."""
        text = when.isoformat() if isinstance(when, datetime) else when
        return datetime.fromisoformat(self._call("PUT", "/clock", json={"now": text})["now"])

    def advance(self, by: float | timedelta | str) -> datetime:
        """Move the clock forward by seconds, a timedelta, or an ISO 8601 duration."""
        body: dict[str, Any]
        if isinstance(by, str):
            body = {"duration": by}
        elif isinstance(by, timedelta):
            body = {"seconds": by.total_seconds()}
        else:
            body = {"seconds": by}
        return datetime.fromisoformat(self._call("POST", "/clock/advance", json=body)["now"])


class Faults(_Controls):
    """Faults for the next matching requests, shared by every worker of the demo."""

    def add(
        self,
        workflow: str = "*",
        *,
        status: int | None = None,
        body: Any = None,
        retry_after: int | None = None,
        delay_ms: int = 0,
        drop: bool = False,
        times: int | None = None,
        match: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Arm a fault (the fields of ``POST /api/demo/faults``); return it with its id."""
        spec: dict[str, Any] = {"workflow": workflow, "delay_ms": delay_ms, "drop": drop}
        optional = {
            "status": status,
            "body": body,
            "retry_after": retry_after,
            "times": times,
            "match": match,
        }
        spec.update({name: value for name, value in optional.items() if value is not None})
        result: dict[str, Any] = self._call("POST", "/faults", json=spec)
        return result

    def all(self) -> list[dict[str, Any]]:
        """Every fault, oldest first, with ``fired``: how often it fired."""
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def remove(self, fault_id: int) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear(self) -> None:
        self._call("DELETE", "/faults")


@dataclass
class UltimoStandIn:
    """One running demo, seen as an integrator's test sees it."""

    base_url: str
    admin_token: str
    api_key: str = PLAYGROUND_API_KEY
    application_element_ids: dict[str, str] = field(
        default_factory=lambda: dict(DOCUMENTED_APPLICATION_ELEMENT_IDS)
    )

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )
        self.clock = Clock(self._http)
        self.faults = Faults(self._http)
        self._controls = _Controls(self._http)
        self._client: UltimoClient | None = None

    @classmethod
    def of(cls, server: StandInServer) -> UltimoStandIn:
        """The controls of ``server``, with the key and GUIDs of its fixture, if any."""
        standin = cls(server.base_url, server.admin_token)
        if server.fixture is not None:
            from roomline.services.fixtures import read_fixture

            fixture = read_fixture(server.fixture)
            if fixture.keys:
                standin.api_key = fixture.keys[0].secret
            standin.application_element_ids.update(fixture.application_element_ids)
        return standin

    @property
    def client(self) -> UltimoClient:
        """An ``UltimoClient`` for this demo, with its key and GUIDs (default retries)."""
        if self._client is None:
            self._client = UltimoClient(
                self.base_url, self.api_key, application_element_ids=self.application_element_ids
            )
        return self._client

    def reset(self) -> None:
        """Data, numbering, clock back to the start; no faults, an empty journal."""
        self._controls._call("POST", "/reset")

    def requests(self, workflow: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest requests the workflows received (of ``workflow``), oldest first."""
        params: dict[str, Any] = {"limit": limit}
        if workflow is not None:
            params["workflow"] = workflow
        result: list[dict[str, Any]] = self._controls._call("GET", "/requests", params=params)
        return result

    def clear_requests(self) -> None:
        self._controls._call("DELETE", "/requests")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._http.close()
