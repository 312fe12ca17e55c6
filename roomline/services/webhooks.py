"""Webhook subscriptions for administrators: add, list, remove, deliveries, replay, and
a new secret (``rotate_secret``).

The same calls serve the management API, the CLI and the web view (ping lives with the
sender, in ``webhook_delivery``). A subscription names a URL, the event types it wants
(``services.changes.EVENT_TYPES``) and optionally spaces; its secret (``whsec_`` and 32
random bytes in base64, as Standard Webhooks writes them) is shown when it is added and
not again.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roomline.domain.errors import (
    InvalidParameter,
    RecordNotFound,
    UnknownEventType,
    UnknownSpace,
    WebhookDisabled,
)
from roomline.domain.times import format_iso
from roomline.domain.webhooks import Targets, check_url, previous_secret_until
from roomline.services.changes import EVENT_TYPES
from roomline.services.clock import Clock
from roomline.services.webhook_delivery import FAN_OUT_JOB, UTC_ZONE, attempt_values
from roomline.services.webhook_sender import resolve_now
from roomline.storage import audit as log_store
from roomline.storage import jobs as job_store
from roomline.storage import masterdata
from roomline.storage import webhooks as store
from roomline.storage.database import Database

SUBSCRIBABLE = tuple(EVENT_TYPES.values())
DEFAULT_DELIVERIES = 50
MAX_DELIVERIES = 500
# How long a rotated-out secret also signs deliveries, unless told otherwise (as Svix).
DEFAULT_KEEP_PREVIOUS_HOURS = 24
MAX_KEEP_PREVIOUS_HOURS = 7 * 24


@dataclass(frozen=True, slots=True)
class AddedSubscription:
    """A subscription's values and its new secret (added, or rotated), shown this once."""

    values: dict[str, Any]
    secret: str


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def split_list(values: Iterable[str] | None) -> list[str]:
    """Read a list given as repeated values and/or comma-separated ones, without repeats."""
    found: list[str] = []
    for value in values or ():
        for part in value.split(","):
            if part.strip() and part.strip() not in found:
                found.append(part.strip())
    return found


def event_types_named(values: Iterable[str] | None) -> list[str]:
    names = split_list(values)
    if not names:
        raise InvalidParameter(f"Give at least one event type: {', '.join(SUBSCRIBABLE)}.")
    unknown = [name for name in names if name not in SUBSCRIBABLE]
    if unknown:
        raise UnknownEventType(
            f"Unknown event type {', '.join(map(repr, unknown))}; roomline sends "
            f"{', '.join(SUBSCRIBABLE)}."
        )
    return names


class Webhooks:
    """Subscriptions of one deployment: its database, clock and target rule."""

    def __init__(self, database: Database, clock: Clock, targets: Targets) -> None:
        self.database = database
        self.clock = clock
        self.targets = targets

    def add(
        self, url: str, event_types: Iterable[str] | None, space_ids: Iterable[str] | None = None
    ) -> AddedSubscription:
        """Subscribe ``url`` to the changes after now; answer the subscription and secret."""
        url = url.strip()
        host, port = check_url(url)
        names = event_types_named(event_types)
        spaces = split_list(space_ids)
        try:
            addresses = resolve_now(host, port)
        except OSError as exc:
            raise InvalidParameter(
                f"The webhook URL's host {host!r} cannot be resolved: {exc}."
            ) from exc
        self.targets.check(url, addresses)
        secret = new_secret()
        with self.database.write() as conn:
            for space_id in spaces:
                if masterdata.get_space(conn, space_id) is None:
                    raise UnknownSpace.named(space_id)
            now = self.clock.now(conn)
            # Holding the fan-out's row, no change can be fanned out between reading the
            # log's end here and the subscription becoming visible: it hears of every
            # change after ``start_cursor``.
            claimed = job_store.claim(conn, FAN_OUT_JOB, now)
            latest = log_store.latest_cursor_in(conn)
            if claimed is None or not store.subscriptions(conn, active_only=True):
                # The only active subscription: the fan-out starts where it does (while
                # nobody subscribes, the fan-out neither reads the log nor writes).
                job_store.set_cursor(conn, FAN_OUT_JOB, latest, now)
            subscription_id = store.add_subscription(
                conn,
                url=url,
                event_types=names,
                space_ids=spaces,
                secret=secret,
                now=now,
                start_cursor=latest,
            )
            row = store.subscription(conn, subscription_id)
        return AddedSubscription(subscription_values(row, {}, now), secret)

    def subscriptions(self) -> list[dict[str, Any]]:
        with self.database.read() as conn:
            counts, now = store.counts_by_status(conn), self.clock.now(conn)
            return [subscription_values(row, counts, now) for row in store.subscriptions(conn)]

    def subscription(self, subscription_id: int) -> dict[str, Any]:
        with self.database.read() as conn:
            row = self._subscription(conn, subscription_id)
            return subscription_values(row, store.counts_by_status(conn), self.clock.now(conn))

    def remove(self, subscription_id: int) -> dict[str, Any]:
        """Delete a subscription with its deliveries; nothing more is sent to it."""
        with self.database.write() as conn:
            row = self._subscription(conn, subscription_id)
            store.remove_subscription(conn, subscription_id)
            now = self.clock.now(conn)
        return subscription_values(row, {}, now)

    def rotate_secret(
        self, subscription_id: int, keep_previous_hours: int = DEFAULT_KEEP_PREVIOUS_HOURS
    ) -> AddedSubscription:
        """Give a subscription a new secret. The one it replaces also signs its deliveries
        for ``keep_previous_hours`` more (0: not at all), each delivery carrying both
        signatures, so its receiver can move to the new secret without refusing one. A
        secret an earlier rotation kept is dropped."""
        if not 0 <= keep_previous_hours <= MAX_KEEP_PREVIOUS_HOURS:
            raise InvalidParameter(
                f"keep_previous_hours must be between 0 and {MAX_KEEP_PREVIOUS_HOURS} "
                f"(a week); got {keep_previous_hours}."
            )
        secret = new_secret()
        with self.database.write() as conn:
            row = self._subscription(conn, subscription_id, lock=True)
            now = self.clock.now(conn)
            until = now + timedelta(hours=keep_previous_hours) if keep_previous_hours else None
            previous = row.secret if until is not None else None
            store.set_secret(conn, subscription_id, secret, previous, until)
            row = store.subscription(conn, subscription_id)
        return AddedSubscription(subscription_values(row, {}, now), secret)

    def deliveries(
        self, subscription_id: int, *, failed_only: bool = False, limit: int = DEFAULT_DELIVERIES
    ) -> list[dict[str, Any]]:
        """A subscription's deliveries, newest first, each with its attempts."""
        if not 1 <= limit <= MAX_DELIVERIES:
            raise InvalidParameter(f"limit must be between 1 and {MAX_DELIVERIES}.")
        with self.database.read() as conn:
            self._subscription(conn, subscription_id)
            rows = store.deliveries(conn, subscription_id, failed_only=failed_only, limit=limit)
            attempts = store.attempts_of(conn, [row.id for row in rows])
        return [delivery_values(row, attempts[row.id]) for row in rows]

    def replay(self, delivery_id: int) -> dict[str, Any]:
        """Send a delivery again, now, with the same ``webhook-id`` and body; its retry
        schedule starts again."""
        with self.database.write() as conn:
            row = store.delivery(conn, delivery_id, lock=True)
            if row is None:
                raise RecordNotFound(f"There is no webhook delivery {delivery_id}.")
            subscription = self._subscription(conn, row.subscription_id)
            if not subscription.active:
                raise WebhookDisabled(
                    f"Webhook subscription {subscription.id} is disabled "
                    f"({subscription.disabled_reason}); add the URL again to receive events."
                )
            now = self.clock.now(conn)
            # The lease stays: a delivery being sent right now is not sent twice at once.
            store.restart(conn, delivery_id, now)
            updated = store.delivery(conn, delivery_id)
            attempts = store.attempts_of(conn, [delivery_id])
        return delivery_values(updated, attempts[delivery_id])

    @staticmethod
    def _subscription(conn: Any, subscription_id: int, *, lock: bool = False) -> Any:
        row = store.subscription(conn, subscription_id, lock=lock)
        if row is None:
            raise RecordNotFound(f"There is no webhook subscription {subscription_id}.")
        return row


def _iso(instant: Any) -> str | None:
    return None if instant is None else format_iso(instant, UTC_ZONE)


def subscription_values(
    row: Any, counts: dict[tuple[int, str], int], now: datetime
) -> dict[str, Any]:
    """What may be shown about a subscription at ``now``: everything but its secrets, and
    until when a rotated-out secret still signs (None once it signs nothing)."""
    return {
        "id": row.id,
        "url": row.url,
        "events": json.loads(row.event_types),
        "spaces": json.loads(row.space_ids),
        "status": "active" if row.active else "disabled",
        "disabled_reason": row.disabled_reason,
        "disabled_at": _iso(row.disabled_at),
        "created_at": _iso(row.created_at),
        "start_cursor": str(row.start_cursor),
        "previous_secret_expires_at": _iso(previous_secret_until(row.previous_secret_until, now)),
        "deliveries": {
            status: counts.get((row.id, status), 0)
            for status in (store.PENDING, store.SUCCEEDED, store.FAILED, store.DISABLED)
        },
    }


def delivery_values(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "subscription_id": row.subscription_id,
        "type": row.event_type,
        "cursor": None if row.cursor is None else str(row.cursor),
        "status": row.status,
        "attempt_count": row.attempt_count,
        "next_attempt_at": _iso(row.next_attempt_at) if row.status == store.PENDING else None,
        "created_at": _iso(row.created_at),
        "payload": json.loads(row.payload),
        "attempts": [attempt_values(attempt) for attempt in attempts],
    }
