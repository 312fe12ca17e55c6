"""Run ``roomline`` as a user would, against a real database of either kind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from roomline.cli import app
from roomline.services.clock import SystemClock
from roomline.services.reservations import NewReservation, Policy, ReservationService
from roomline.storage.database import Database


@dataclass
class Cli:
    database_url: str
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> Result:
        """Run ``roomline *args`` with ROOMLINE_DATABASE_URL set; by default expect success."""
        result = self.runner.invoke(
            app, list(args), input=input, env={"ROOMLINE_DATABASE_URL": self.database_url}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
            assert result.stderr.startswith("error: "), result.stderr
            assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(database_url: str) -> Cli:
    return Cli(database_url, CliRunner())


@pytest.fixture
def book(database_url: str) -> Iterator[Callable[..., int]]:
    """Make a real reservation through the reservation service; return its UltimoId."""
    database = Database(database_url)
    service = ReservationService(database, SystemClock(), Policy())
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    def make(space: str, applicant: str, hours_from_base: int = 0, *, cancel: bool = False) -> int:
        start = base + timedelta(hours=hours_from_base)
        ultimo_id = service.create(
            NewReservation(
                space_id=space,
                applicant_id=applicant,
                start_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                end_time=(start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                description=f"Meeting {hours_from_base}",
            ),
            None,
        )
        if cancel:
            service.cancel(ultimo_id)
        return ultimo_id

    yield make
    database.dispose()
