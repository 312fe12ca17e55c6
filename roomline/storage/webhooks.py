"""Webhook subscriptions, deliveries and attempts (tables in ``tables.py``).

Repositories never commit: the caller's unit of work does (services/webhooks.py,
services/webhook_delivery.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from itertools import takewhile
from typing import Any

from sqlalchemy import (
    Connection,
    case,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)

from roomline.storage.direct import DirectStatement, JsonRecords, in_json_list, json_list
from roomline.storage.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
DISABLED = "disabled"


def add_subscription(
    conn: Connection,
    *,
    url: str,
    event_types: Sequence[str],
    space_ids: Sequence[str],
    secret: str,
    now: datetime,
    start_cursor: int,
) -> int:
    return int(
        conn.execute(
            insert(webhook_subscriptions)
            .values(
                url=url,
                event_types=json.dumps(list(event_types)),
                space_ids=json.dumps(list(space_ids)),
                secret=secret,
                active=True,
                created_at=now,
                start_cursor=start_cursor,
            )
            .returning(webhook_subscriptions.c.id)
        ).scalar_one()
    )


def subscription(conn: Connection, subscription_id: int, *, lock: bool = False) -> Any:
    query = select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


_ALL_SUBSCRIPTIONS = select(webhook_subscriptions).order_by(webhook_subscriptions.c.id)
# Read by every delivery round, once with SQLite's write lock held: prebuilt.
_ACTIVE_SUBSCRIPTIONS = DirectStatement(_ALL_SUBSCRIPTIONS.where(webhook_subscriptions.c.active))


def subscriptions(conn: Connection, *, active_only: bool = False) -> list[Any]:
    if active_only:
        return _ACTIVE_SUBSCRIPTIONS.all(conn, {})
    return list(conn.execute(_ALL_SUBSCRIPTIONS))


def set_secret(
    conn: Connection,
    subscription_id: int,
    secret: str,
    previous: str | None,
    previous_until: datetime | None,
) -> None:
    """Sign a subscription's deliveries with ``secret``, and with ``previous`` too until
    ``previous_until``."""
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription_id)
        .values(secret=secret, previous_secret=previous, previous_secret_until=previous_until)
    )


def remove_subscription(conn: Connection, subscription_id: int) -> None:
    """Delete a subscription with its deliveries and their attempts."""
    of_subscription = select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.subscription_id == subscription_id
    )
    conn.execute(
        delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(of_subscription))
    )
    conn.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.subscription_id == subscription_id)
    )
    conn.execute(delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id))


def disable_subscription(
    conn: Connection, subscription_id: int, reason: str, now: datetime
) -> None:
    """Stop a subscription: it gets no new deliveries, and its waiting ones are dropped."""
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription_id)
        .values(active=False, disabled_reason=reason[:500], disabled_at=now)
    )
    conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.subscription_id == subscription_id,
            webhook_deliveries.c.status == PENDING,
        )
        .values(status=DISABLED, next_attempt_at=None, lease_until=None)
    )


DELIVERY_KEYS = (
    "message_id",
    "subscription_id",
    "event_type",
    "cursor",
    "payload",
    "status",
    "attempt_count",
    "next_attempt_at",
    "lease_until",
    "created_at",
)
# A delivery round adds hundreds of deliveries and records hundreds of attempts: each is
# one statement for all its rows, passed as one JSON array (storage/direct.py). Rows are
# named by ``message_id`` (unique), so adding deliveries needs no RETURNING.
_NEW_DELIVERIES = JsonRecords(
    "deliveries", {key: webhook_deliveries.c[key].type for key in DELIVERY_KEYS}
)
_ADD_DELIVERIES = DirectStatement(
    insert(webhook_deliveries).from_select(
        list(DELIVERY_KEYS), select(*_NEW_DELIVERIES.fields.values())
    )
)
_ATTEMPT_KEYS = ("at", "status_code", "error", "duration_ms", "response_excerpt", "lease_id")
_NEW_ATTEMPTS = JsonRecords(
    "attempts",
    {
        "message_id": webhook_deliveries.c.message_id.type,
        **{key: webhook_attempts.c[key].type for key in _ATTEMPT_KEYS},
    },
)
_ADD_ATTEMPTS = DirectStatement(
    insert(webhook_attempts).from_select(
        ["delivery_id", *_ATTEMPT_KEYS],
        select(
            webhook_deliveries.c.id, *(_NEW_ATTEMPTS.fields[key] for key in _ATTEMPT_KEYS)
        ).join_from(
            _NEW_ATTEMPTS.source,
            webhook_deliveries,
            webhook_deliveries.c.message_id == _NEW_ATTEMPTS.fields["message_id"],
        ),
    )
)
# A successful attempt: a pending delivery has succeeded; one that is not pending any
# more (replayed meanwhile, disabled) keeps its status. One UPDATE for all of a round's
# successes (SET reads each row as it was), named by a JSON list of message ids.
_STILL_PENDING = webhook_deliveries.c.status == PENDING
_SUCCEEDED = DirectStatement(
    update(webhook_deliveries)
    .where(in_json_list(webhook_deliveries.c.message_id, "message_ids"))
    .values(
        status=case((_STILL_PENDING, SUCCEEDED), else_=webhook_deliveries.c.status),
        next_attempt_at=case((_STILL_PENDING, null()), else_=webhook_deliveries.c.next_attempt_at),
        attempt_count=webhook_deliveries.c.attempt_count + 1,
        lease_until=None,
    )
)


def plan_each_statement(conn: Connection) -> None:
    """PostgreSQL: plan each statement of the caller's transaction for its own values and
    the tables as they are now, not once for all (a delivery round's).

    A statement prepared and run many times on one connection (psycopg prepares after five)
    gets a generic plan, chosen once for the tables as they were then. Deliveries start
    empty and grow by hundreds a second under load: a plan chosen while the table had a
    page or two scanned all of it for every attempt recorded (2 ms and growing, where the
    unique index takes 0.1), and a round fell seconds behind, in about one benchmark run of
    four on a server without autovacuum (docs/performance.md). Planning these short
    statements each time costs less than one such scan."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def deliveries_json(rows: list[dict[str, Any]]) -> str:
    """``rows`` (keys: ``DELIVERY_KEYS``) as ``add_deliveries`` takes them. Encoded before
    the write transaction: SQLite's write lock, which every reservation write waits for,
    is then held only to run the statement (encoding was a sixth of a round's hold)."""
    return _NEW_DELIVERIES.value(rows)


def add_deliveries(conn: Connection, deliveries: str) -> None:
    """Insert the deliveries of ``deliveries_json``."""
    if deliveries != "[]":
        _ADD_DELIVERIES.write(conn, {"deliveries": deliveries})


def add_delivery(conn: Connection, row: dict[str, Any]) -> int:
    """Insert one delivery (keys: ``DELIVERY_KEYS``); return its id."""
    return int(
        conn.execute(
            insert(webhook_deliveries).values(**row).returning(webhook_deliveries.c.id)
        ).scalar_one()
    )


def delivery(conn: Connection, delivery_id: int, *, lock: bool = False) -> Any:
    query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def deliveries_by_message_id(conn: Connection, message_ids: Sequence[str]) -> dict[str, Any]:
    """The deliveries of ``message_ids`` that still exist (id, subscription_id, status,
    attempt_count), locked until the caller's transaction ends (PostgreSQL; SQLite's
    write transaction holds everything)."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.message_id,
            webhook_deliveries.c.subscription_id,
            webhook_deliveries.c.status,
            webhook_deliveries.c.attempt_count,
        )
        .where(webhook_deliveries.c.message_id.in_(list(message_ids)))
        .order_by(webhook_deliveries.c.id)
        .with_for_update()
    )
    return {row.message_id: row for row in rows}


def _due(now: datetime) -> tuple[Any, ...]:
    return (
        webhook_deliveries.c.status == PENDING,
        webhook_deliveries.c.next_attempt_at <= now,
        or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until <= now),
    )


def any_due(conn: Connection, now: datetime) -> bool:
    query = select(webhook_deliveries.c.id).where(*_due(now)).limit(1)
    return conn.execute(query).first() is not None


def lease_due(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[Any]:
    """Take up to ``limit`` deliveries that are due and held by nobody: set their lease and
    return them with their subscription's url and secret. On PostgreSQL, rows another
    worker is leasing at this moment are skipped (SKIP LOCKED), not waited for; SQLite's
    one write transaction does the same by taking turns."""
    due = (
        select(webhook_deliveries.c.id)
        .where(*_due(now))
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(ids))
        .values(lease_until=lease_until)
    )
    return list(
        conn.execute(
            select(
                webhook_deliveries,
                webhook_subscriptions.c.url,
                webhook_subscriptions.c.secret,
                webhook_subscriptions.c.previous_secret,
                webhook_subscriptions.c.previous_secret_until,
            )
            .select_from(webhook_deliveries.join(webhook_subscriptions))
            .where(webhook_deliveries.c.id.in_(ids))
            .order_by(webhook_deliveries.c.id)
        )
    )


def settle(conn: Connection, delivery_id: int, **values: Any) -> None:
    """Record where a delivery stands after an attempt (its lease ends)."""
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(lease_until=None, **values)
    )


def settle_succeeded(conn: Connection, message_ids: Sequence[str]) -> None:
    """Record that an attempt of each of these deliveries succeeded (their leases end):
    a pending one has succeeded; one that is not pending any more (replayed, disabled)
    keeps its status and counts the attempt."""
    if message_ids:
        _SUCCEEDED.write(conn, {"message_ids": json_list(message_ids)})


def restart(conn: Connection, delivery_id: int, now: datetime) -> None:
    """Make a delivery due now with a fresh retry schedule (a replay); a lease stays."""
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(status=PENDING, attempt_count=0, next_attempt_at=now)
    )


def attempts_json(attempts: list[dict[str, Any]]) -> str:
    """``attempts`` (keys: message_id of the delivery, at, status_code, error, duration_ms,
    response_excerpt, lease_id) as ``add_attempts`` takes them, encoded before the write
    transaction (``deliveries_json``)."""
    return _NEW_ATTEMPTS.value(
        {
            **values,
            "error": None if values["error"] is None else _storable(values["error"][:500]),
            "response_excerpt": _storable(values["response_excerpt"]),
        }
        for values in attempts
    )


def add_attempts(conn: Connection, attempts: str) -> None:
    """Insert the attempts of ``attempts_json``; nothing for a delivery removed meanwhile."""
    if attempts != "[]":
        _ADD_ATTEMPTS.write(conn, {"attempts": attempts})


def recorded_leases(conn: Connection, attempts: Sequence[tuple[str, str]]) -> set[str]:
    """Which of ``attempts`` (message id of the delivery, lease id) are recorded already."""
    if not attempts:
        return set()
    rows = conn.execute(
        select(webhook_attempts.c.lease_id)
        .join_from(webhook_attempts, webhook_deliveries)
        .where(
            webhook_deliveries.c.message_id.in_({message_id for message_id, _ in attempts}),
            webhook_attempts.c.lease_id.in_({lease_id for _, lease_id in attempts}),
        )
    )
    return set(rows.scalars())


def delete_ended_before(
    conn: Connection, before: datetime, after_id: int, limit: int
) -> tuple[int, int | None]:
    """Walk up to ``limit`` deliveries after id ``after_id``, oldest first, as long as they
    were made before ``before``, and delete, with their attempts, those that ended (not
    pending) and have no attempt since ``before`` (one replayed lately keeps its history).
    Return how many were deleted, and the id to walk on from (None: the walk reached a
    newer delivery, or the end).

    Deliveries are numbered as they are made, so the walk follows the primary key and
    stops at the first one too new: no index on their time, which every delivery added
    would pay for, and a walk that finds nothing reads one batch. On PostgreSQL the rows
    walked are locked, and those another transaction holds are skipped: a replay under way
    is not deleted under it, and two hosts pruning at once delete different rows."""
    walk = (
        select(
            webhook_deliveries.c.id, webhook_deliveries.c.status, webhook_deliveries.c.created_at
        )
        .where(webhook_deliveries.c.id > after_id)
        .order_by(webhook_deliveries.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        walk = walk.with_for_update(skip_locked=True)
    rows = conn.execute(walk).all()
    walked = list(takewhile(lambda row: row.created_at < before, rows))
    ended = [row.id for row in walked if row.status != PENDING]
    if ended:
        tried_since = select(webhook_attempts.c.delivery_id).where(
            webhook_attempts.c.delivery_id.in_(ended), webhook_attempts.c.at >= before
        )
        kept = set(conn.execute(tried_since).scalars())
        ended = [delivery_id for delivery_id in ended if delivery_id not in kept]
    if ended:
        conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ended)))
        conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(ended)))
    walk_on = walked[-1].id if len(walked) == limit else None
    return len(ended), walk_on


def _storable(text: str) -> str:
    """``text`` with U+0000, which PostgreSQL's text cannot hold (and SQLite's JSON ends a
    string at), as U+FFFD, as the receiver's bytes that are not UTF-8 are."""
    return text.replace("\x00", "\ufffd")


def last_attempt(conn: Connection, delivery_id: int) -> Any:
    return conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.id.desc())
        .limit(1)
    ).first()


def deliveries(
    conn: Connection, subscription_id: int, *, failed_only: bool, limit: int
) -> list[Any]:
    """A subscription's deliveries, newest first; ``failed_only``: those not delivered that
    failed at least once (given up, stopped, or waiting for a retry)."""
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.subscription_id == subscription_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    if failed_only:
        query = query.where(
            webhook_deliveries.c.status != SUCCEEDED, webhook_deliveries.c.attempt_count > 0
        )
    return list(conn.execute(query))


def attempts_of(conn: Connection, delivery_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Each delivery's attempts, oldest first."""
    found: dict[int, list[Any]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    rows = conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(list(delivery_ids)))
        .order_by(webhook_attempts.c.id)
    )
    for row in rows:
        found[row.delivery_id].append(row)
    return found


def counts_by_status(conn: Connection) -> dict[tuple[int, str], int]:
    """How many deliveries each subscription has in each status."""
    rows = conn.execute(
        select(
            webhook_deliveries.c.subscription_id,
            webhook_deliveries.c.status,
            func.count(),
        ).group_by(webhook_deliveries.c.subscription_id, webhook_deliveries.c.status)
    )
    return {(row[0], row[1]): int(row[2]) for row in rows}
