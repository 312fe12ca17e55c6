"""``roomline call``: the Python client from the command line, against any Ultimo server.

It prints the result as JSON on standard output, in roomline's snake_case names (as the
Python client and the management API; not the Ultimo wire's), e.g. ``{"ultimo_id": …}``.
A refusal prints ``{"error": {"code", "message", "status"}}`` on standard error and exits
with status 1. Each retry is announced on standard error first: why, when the next try
comes, and how much waiting is left before it gives up.
Times are sent as typed: ``yyyy-MM-dd HH:mm:ss`` is wall-clock time in the space's zone,
``yyyy-MM-ddTHH:mm:ssZ`` is UTC.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from roomline.cli.options import command_group
from roomline.client import RateLimited, RetryPolicy, UltimoClient, UltimoError

app = command_group("Call the Ultimo workflows of roomline or a real Ultimo environment.")

BaseUrl = typer.Option(
    "--base-url",
    envvar="ROOMLINE_CALL_BASE_URL",
    help="The server, e.g. https://example.ultimo.net",
)
ApiKey = typer.Option(
    "--api-key",
    envvar="ROOMLINE_CALL_API_KEY",
    help="The 32-hex-digit API key",
    show_default=False,
)
Attempts = typer.Option(
    "--attempts",
    min=1,
    help="Tries for idempotent calls (get, cancel, create with --external-id) on 429, "
    "502-504 and connection failures.",
)
RetryWrites = typer.Option(
    "--retry-writes", help="Also retry update and create without --external-id."
)
Timeout = typer.Option("--timeout", min=0.1, help="Seconds to wait for each answer.")
TIME_HELP = "'yyyy-MM-dd HH:mm:ss' (the space's wall-clock time) or 'yyyy-MM-ddTHH:mm:ssZ'"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def _run(
    base_url: str,
    api_key: str,
    attempts: int,
    retry_writes: bool,
    timeout: float,
    action: Callable[[UltimoClient], Any],
) -> None:
    retry = RetryPolicy(attempts=attempts, retry_writes=retry_writes)
    try:
        with (
            retries_told_on_stderr(),
            UltimoClient(base_url, api_key, retry=retry, timeout=timeout) as client,
        ):
            result = action(client)
    except UltimoError as exc:
        error: dict[str, Any] = {
            "code": exc.code,
            "message": exc.message,
            "status": exc.status_code,
        }
        if isinstance(exc, RateLimited):
            error["retry_after"] = exc.retry_after
        typer.echo(json.dumps({"error": error}, ensure_ascii=False), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


@contextmanager
def retries_told_on_stderr() -> Iterator[None]:
    """Print the client's retry notices on standard error, one line each, while running."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("roomline call: %(message)s"))
    client_log = logging.getLogger("roomline.client")
    level = client_log.level
    client_log.addHandler(handler)
    client_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        client_log.removeHandler(handler)
        client_log.setLevel(level)


@app.command("create")
def create(
    space: Annotated[str, typer.Option("--space", help="SpaceId")],
    start: Annotated[str, typer.Option("--start", help=f"StartTime: {TIME_HELP}")],
    end: Annotated[str, typer.Option("--end", help="EndTime, in the same formats")],
    applicant: Annotated[str, typer.Option("--applicant", help="ApplicantId")],
    api_key: Annotated[str, ApiKey],
    description: Annotated[str, typer.Option("--description", help="Description")] = "",
    external_id: Annotated[
        str, typer.Option("--external-id", help="ExternalId; makes a repeat return the same id")
    ] = "",
    base_url: Annotated[str, BaseUrl] = DEFAULT_BASE_URL,
    attempts: Annotated[int, Attempts] = 3,
    retry_writes: Annotated[bool, RetryWrites] = False,
    timeout: Annotated[float, Timeout] = 30.0,
) -> None:
    """REST_CreateReservation: book a space; prints {"ultimo_id": ...}."""

    def action(client: UltimoClient) -> dict[str, str]:
        ultimo_id = client.create_reservation(
            space_id=space,
            start=start,
            end=end,
            applicant_id=applicant,
            description=description,
            external_id=external_id,
        )
        return {"ultimo_id": ultimo_id}

    _run(base_url, api_key, attempts, retry_writes, timeout, action)


@app.command("update")
def update(
    ultimo_id: Annotated[str, typer.Argument(help="UltimoId, e.g. 00000006712")],
    api_key: Annotated[str, ApiKey],
    start: Annotated[str | None, typer.Option("--start", help=f"StartTime: {TIME_HELP}")] = None,
    end: Annotated[str | None, typer.Option("--end", help="EndTime")] = None,
    base_url: Annotated[str, BaseUrl] = DEFAULT_BASE_URL,
    attempts: Annotated[int, Attempts] = 3,
    retry_writes: Annotated[bool, RetryWrites] = False,
    timeout: Annotated[float, Timeout] = 30.0,
) -> None:
    """REST_UpdateReservation: move, shorten or extend; give --start, --end or both."""
    if start is None and end is None:
        raise typer.BadParameter("give --start, --end or both")

    def action(client: UltimoClient) -> dict[str, str]:
        client.update_reservation(ultimo_id, start=start, end=end)
        return {"ultimo_id": ultimo_id, "result": "updated"}

    _run(base_url, api_key, attempts, retry_writes, timeout, action)


@app.command("cancel")
def cancel(
    ultimo_id: Annotated[str, typer.Argument(help="UltimoId, e.g. 00000006712")],
    api_key: Annotated[str, ApiKey],
    base_url: Annotated[str, BaseUrl] = DEFAULT_BASE_URL,
    attempts: Annotated[int, Attempts] = 3,
    timeout: Annotated[float, Timeout] = 30.0,
) -> None:
    """REST_CancelReservation: cancel (again: still fine)."""

    def action(client: UltimoClient) -> dict[str, str]:
        client.cancel_reservation(ultimo_id)
        return {"ultimo_id": ultimo_id, "result": "cancelled"}

    _run(base_url, api_key, attempts, False, timeout, action)


@app.command("get")
def get(
    space: Annotated[str, typer.Option("--space", help="SpaceId")],
    from_time: Annotated[str, typer.Option("--from", help=f"From: {TIME_HELP}")],
    till_time: Annotated[str, typer.Option("--till", help="Till, in the same formats")],
    api_key: Annotated[str, ApiKey],
    base_url: Annotated[str, BaseUrl] = DEFAULT_BASE_URL,
    attempts: Annotated[int, Attempts] = 3,
    timeout: Annotated[float, Timeout] = 30.0,
) -> None:
    """REST_GetReservationsForSpace: the space's reservations overlapping [--from, --till)."""

    def action(client: UltimoClient) -> list[dict[str, Any]]:
        return [item.to_json() for item in client.get_reservations(space, from_time, till_time)]

    _run(base_url, api_key, attempts, False, timeout, action)
