"""``/api/manage/webhooks``: subscribe URLs to changes, see deliveries, replay, ping.

The same services as ``roomline webhooks`` and the web view's Webhooks page
(docs/webhooks.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from roomline.api.management import schemas
from roomline.api.management.common import database_errors
from roomline.services.webhook_delivery import WebhookDelivery
from roomline.services.webhooks import (
    DEFAULT_DELIVERIES,
    DEFAULT_KEEP_PREVIOUS_HOURS,
    MAX_DELIVERIES,
    Webhooks,
)
from roomline.storage.tables import LARGEST_ID, LARGEST_SMALL_ID

router = APIRouter(prefix="/webhooks")
# Bounded by what the id columns hold, so a huge number is a clear 400, not a database error.
SubscriptionId = Annotated[
    int, Path(ge=1, le=LARGEST_SMALL_ID, description="The subscription's id (from the list).")
]
DeliveryId = Annotated[
    int, Path(ge=1, le=LARGEST_ID, description="The delivery's id (from its deliveries).")
]


def _webhooks(request: Request) -> Webhooks:
    found: Webhooks = request.app.state.webhooks
    return found


@router.get("", response_model=list[schemas.Webhook], summary="List webhook subscriptions.")
def list_webhooks(request: Request) -> Any:
    """Return every subscription, active and disabled, with its deliveries counted by
    status; secrets are shown only when a subscription is added."""
    with database_errors():
        return _webhooks(request).subscriptions()


@router.post(
    "",
    response_model=schemas.AddedWebhook,
    status_code=201,
    summary="Subscribe a URL to changes.",
)
async def add_webhook(request: Request, body: schemas.NewWebhook) -> Any:
    """Subscribe a URL to event types (optionally of some spaces). It is told of every
    change committed after now, signed with the secret in this answer (shown only now).
    Refused: ``UnknownEventType``, ``InvalidWebhookUrl``, ``WebhookTargetNotAllowed``
    (the host resolves to an address ROOMLINE_WEBHOOK_ALLOWED_NETWORKS excludes),
    ``UnknownSpace``."""
    with database_errors():
        added = await run_in_threadpool(_webhooks(request).add, body.url, body.events, body.spaces)
    delivery: WebhookDelivery = request.app.state.webhook_delivery
    delivery.wake()  # this process starts following the log now
    return {**added.values, "secret": added.secret}


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=schemas.AddedWebhook,
    summary="Give a webhook a new signing secret.",
)
def rotate_secret(
    request: Request, subscription_id: SubscriptionId, body: schemas.SecretRotation | None = None
) -> Any:
    """Give a subscription a new secret, in this answer (shown only now). The secret it
    replaces also signs each delivery for ``keep_previous_hours`` more (24 by default): a
    delivery then carries two signatures, as Standard Webhooks allows, so the receiver
    verifies it with either secret while it moves to the new one."""
    keep = body.keep_previous_hours if body else DEFAULT_KEEP_PREVIOUS_HOURS
    with database_errors():
        rotated = _webhooks(request).rotate_secret(subscription_id, keep)
    return {**rotated.values, "secret": rotated.secret}


@router.delete("/{subscription_id}", response_model=schemas.Webhook, summary="Remove a webhook.")
def remove_webhook(request: Request, subscription_id: SubscriptionId) -> Any:
    """Delete a subscription with its deliveries; nothing more is sent to it."""
    with database_errors():
        return _webhooks(request).remove(subscription_id)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=list[schemas.WebhookDelivery],
    summary="List a webhook's deliveries and their attempts.",
)
def list_deliveries(
    request: Request,
    subscription_id: SubscriptionId,
    failed: Annotated[
        bool,
        Query(
            description="Only those not delivered that failed at least once (given up, "
            "stopped by a 410, or waiting for a retry)."
        ),
    ] = False,
    limit: Annotated[
        int, Query(description=f"At most this many, newest first (1-{MAX_DELIVERIES}).")
    ] = DEFAULT_DELIVERIES,
) -> Any:
    """Return a subscription's deliveries, newest first, each with every attempt."""
    with database_errors():
        return _webhooks(request).deliveries(subscription_id, failed_only=failed, limit=limit)


@router.post(
    "/deliveries/{delivery_id}/replay",
    response_model=schemas.WebhookDelivery,
    summary="Send a delivery again.",
)
async def replay_delivery(
    request: Request,
    delivery_id: DeliveryId,
) -> Any:
    """Send a delivery again now, with the same ``webhook-id`` and body, and a fresh
    retry schedule (``WebhookDisabled``, 409, if its subscription was disabled)."""
    with database_errors():
        replayed = await run_in_threadpool(_webhooks(request).replay, delivery_id)
    delivery: WebhookDelivery = request.app.state.webhook_delivery
    delivery.wake()
    return replayed


@router.post(
    "/{subscription_id}/ping",
    response_model=schemas.PingAttempt,
    summary="Send a webhook.ping event now.",
)
async def ping_webhook(request: Request, subscription_id: SubscriptionId) -> Any:
    """Send a ``webhook.ping`` event to the subscription now and answer how the attempt
    went (it is not retried)."""
    delivery: WebhookDelivery = request.app.state.webhook_delivery
    with database_errors():
        return await delivery.ping(subscription_id)
