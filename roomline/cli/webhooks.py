"""``roomline webhooks``: subscribe URLs to changes, list, remove, see deliveries, replay,
ping (docs/webhooks.md).

The commands work on the database, as the other management commands do; a running
server's background jobs send what they add or replay (within a second). ``ping`` sends
from this process, at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from roomline.cli.common import Json, database_for, fail, print_json, print_table
from roomline.cli.options import DatabaseUrl, command_group
from roomline.config import settings_from
from roomline.domain.webhooks import Targets
from roomline.services.changes import ChangeLog, ChangeWatch, Retention
from roomline.services.clock import SharedClock
from roomline.services.webhook_delivery import WebhookDelivery
from roomline.services.webhooks import DEFAULT_KEEP_PREVIOUS_HOURS, SUBSCRIBABLE, Webhooks

app = command_group("Webhooks: signed HTTP calls telling other systems of every change.")

COLUMNS = (
    ("id", "ID"),
    ("url", "URL"),
    ("events", "EVENTS"),
    ("spaces", "SPACES"),
    ("status", "STATUS"),
    ("created_at", "CREATED"),
    ("counts", "PENDING/SUCCEEDED/FAILED"),
)
DELIVERY_COLUMNS = (
    ("id", "DELIVERY"),
    ("type", "TYPE"),
    ("cursor", "CURSOR"),
    ("status", "STATUS"),
    ("attempt_count", "ATTEMPTS"),
    ("last", "LAST ATTEMPT"),
    ("next_attempt_at", "NEXT ATTEMPT"),
)
SubscriptionId = typer.Argument(help="The subscription's id (roomline webhooks list).")


@contextmanager
def webhooks_for(database_url: str | None) -> Iterator[tuple[Webhooks, WebhookDelivery]]:
    with database_for(database_url) as database:
        settings = settings_from(database_url=database_url)
        targets = Targets.from_setting(settings.webhook_allowed_networks)
        # The clock row a demo server shares, if there is one; else the system clock.
        clock = SharedClock()
        changes = ChangeLog(
            database,
            clock,
            settings.default_time_zone,
            Retention(settings.event_retention_days, settings.audit_retention_days),
        )
        yield (
            Webhooks(database, clock, targets),
            WebhookDelivery(database, clock, changes, ChangeWatch(changes.latest), targets),
        )


@app.command("add")
def add(
    url: Annotated[str, typer.Option("--url", help="Where to POST events (http or https).")],
    events: Annotated[
        list[str],
        typer.Option(
            "--events",
            help=f"Event types, comma-separated or repeated: {', '.join(SUBSCRIBABLE)}.",
        ),
    ],
    spaces: Annotated[
        list[str] | None,
        typer.Option(
            "--space", help="Only changes of this space (repeat for more). Default: every space."
        ),
    ] = None,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Subscribe a URL to changes and print the subscription and its secret (shown once)."""
    with webhooks_for(database_url) as (webhooks, _):
        added = webhooks.add(url, events, spaces)
    if json:
        print_json({**added.values, "secret": added.secret})
        return
    values = added.values
    typer.echo(f"added webhook {values['id']}: {values['url']}")
    typer.echo(f"events: {', '.join(values['events'])}")
    typer.echo(f"spaces: {', '.join(values['spaces']) or 'all'}")
    typer.echo("secret (shown only now; verify each delivery's webhook-signature with it):")
    typer.echo(added.secret)


@app.command("rotate-secret")
def rotate_secret(
    subscription_id: Annotated[int, SubscriptionId],
    keep_previous_hours: Annotated[
        int,
        typer.Option(
            "--keep-previous-hours",
            help="How long the secret being replaced also signs deliveries, so the receiver "
            "can move to the new one without refusing any (0-168; 0: not at all).",
        ),
    ] = DEFAULT_KEEP_PREVIOUS_HOURS,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Give a subscription a new signing secret and print it (shown once)."""
    with webhooks_for(database_url) as (webhooks, _):
        rotated = webhooks.rotate_secret(subscription_id, keep_previous_hours)
    if json:
        print_json({**rotated.values, "secret": rotated.secret})
        return
    values = rotated.values
    typer.echo(f"new secret for webhook {values['id']}: {values['url']}")
    typer.echo("secret (shown only now; verify each delivery's webhook-signature with it):")
    typer.echo(rotated.secret)
    until = values["previous_secret_expires_at"]
    if until is None:
        typer.echo("the previous secret signs nothing more")
    else:
        typer.echo(f"the previous secret also signs each delivery until {until}")


@app.command("list")
def list_(
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List subscriptions, active and disabled, with their deliveries counted."""
    with webhooks_for(database_url) as (webhooks, _):
        rows = webhooks.subscriptions()
    if json:
        print_json(rows)
        return
    print_table([_row(row) for row in rows], COLUMNS)
    for row in rows:
        if row["status"] == "disabled":
            typer.echo(
                f"webhook {row['id']} disabled {row['disabled_at']}: {row['disabled_reason']}"
            )


@app.command("remove")
def remove(
    subscription_id: Annotated[int, SubscriptionId],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Remove a subscription with its deliveries; nothing more is sent to it."""
    with webhooks_for(database_url) as (webhooks, _):
        removed = webhooks.remove(subscription_id)
    typer.echo(f"removed webhook {removed['id']}: {removed['url']}")


@app.command("deliveries")
def deliveries(
    subscription_id: Annotated[int, SubscriptionId],
    failed: Annotated[
        bool,
        typer.Option("--failed", help="Only those not delivered that failed at least once."),
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List a subscription's deliveries, newest first, with their last attempt (--json:
    every attempt)."""
    with webhooks_for(database_url) as (webhooks, _):
        rows = webhooks.deliveries(subscription_id, failed_only=failed, limit=limit)
    if json:
        print_json(rows)
    else:
        print_table([{**row, "last": _last_attempt(row)} for row in rows], DELIVERY_COLUMNS)


@app.command("replay")
def replay(
    delivery_id: Annotated[
        int, typer.Argument(help="The delivery's id (roomline webhooks deliveries).")
    ],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Send a delivery again (same webhook-id and body); a running server sends it."""
    with webhooks_for(database_url) as (webhooks, _):
        replayed = webhooks.replay(delivery_id)
    typer.echo(
        f"delivery {replayed['id']} ({replayed['message_id']}) is due again at "
        f"{replayed['next_attempt_at']}"
    )


@app.command("ping")
def ping(
    subscription_id: Annotated[int, SubscriptionId],
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Send a webhook.ping event now and print how the attempt went; exit 1 if it failed."""
    with webhooks_for(database_url) as (_, delivery):
        attempt = asyncio.run(delivery.ping(subscription_id))
    if json:
        print_json(attempt)
    else:
        typer.echo(f"delivery {attempt['delivery_id']}: {_attempt_text(attempt)}")
        if attempt["response_excerpt"]:
            typer.echo(f"answer: {attempt['response_excerpt'][:200]}")
    if not (attempt["status_code"] and 200 <= attempt["status_code"] < 300):
        fail("the receiver did not accept the ping")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    counts = row["deliveries"]
    return {
        **row,
        "events": ",".join(row["events"]),
        "spaces": ",".join(row["spaces"]) or "all",
        "counts": f"{counts['pending']}/{counts['succeeded']}/{counts['failed']}",
    }


def _attempt_text(attempt: dict[str, Any]) -> str:
    result = f"HTTP {attempt['status_code']}" if attempt["status_code"] else attempt["error"]
    return f"{result} in {attempt['duration_ms']} ms at {attempt['at']}"


def _last_attempt(row: dict[str, Any]) -> str | None:
    return _attempt_text(row["attempts"][-1]) if row["attempts"] else None
