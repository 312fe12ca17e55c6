"""The Webhooks page: subscribe URLs to changes, see each delivery and its attempts,
replay, ping, make a new secret, remove (the same services as ``/api/manage/webhooks``
and the CLI).

A secret, new or made anew, is shown once, on the page that answers the form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.errors import status_for
from roomline.domain.errors import RoomlineError
from roomline.services.webhook_delivery import WebhookDelivery
from roomline.services.webhooks import MAX_KEEP_PREVIOUS_HOURS, SUBSCRIBABLE, Webhooks
from roomline.web.blocking import run
from roomline.web.pages import problem, redirect, render
from roomline.web.params import whole_number
from roomline.web.session import flash, require_csrf, require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)], include_in_schema=False)


def _webhooks(request: Request) -> Webhooks:
    found: Webhooks = request.app.state.webhooks
    return found


def _delivery(request: Request) -> WebhookDelivery:
    found: WebhookDelivery = request.app.state.webhook_delivery
    return found


@router.get("/web/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request) -> Response:
    return await _webhooks_page(request)


async def _webhooks_page(
    request: Request, form: dict[str, Any] | None = None, error: RoomlineError | None = None
) -> Response:
    return render(
        request,
        "webhooks.html",
        status=status_for(error) if error else 200,
        subscriptions=await run(_webhooks(request).subscriptions),
        event_types=SUBSCRIBABLE,
        form=form or {"events": ["reservation.created", "reservation.cancelled"]},
        error=error,
    )


@router.post("/web/webhooks", dependencies=[Depends(require_csrf)])
async def add_webhook(request: Request) -> Response:
    """Subscribe a URL and show its secret, this once."""
    form = await request.form()
    events = [name for name in form.getlist("events") if isinstance(name, str)]
    url, spaces = (str(form.get(field) or "").strip() for field in ("url", "spaces"))
    values = {"url": url, "events": events, "spaces": spaces}
    try:
        added = await run(_webhooks(request).add, url, events, [spaces])
    except RoomlineError as exc:
        return await _webhooks_page(request, values, exc)
    _delivery(request).wake()
    return render(
        request, "webhook_created.html", status=201, webhook=added.values, secret=added.secret
    )


@router.get("/web/webhooks/{subscription_id}", response_class=HTMLResponse)
async def deliveries_page(request: Request, subscription_id: int, failed: bool = False) -> Response:
    """A subscription's deliveries, newest first, each with its attempts."""
    webhooks = _webhooks(request)
    try:
        subscription = await run(webhooks.subscription, subscription_id)
        deliveries = await run(webhooks.deliveries, subscription_id, failed_only=failed)
    except RoomlineError as exc:
        return problem(request, exc)
    return render(
        request,
        "webhook_deliveries.html",
        webhook=subscription,
        deliveries=deliveries,
        failed=failed,
    )


@router.post("/web/webhooks/{subscription_id}/ping", dependencies=[Depends(require_csrf)])
async def ping_webhook(request: Request, subscription_id: int) -> Response:
    try:
        attempt = await _delivery(request).ping(subscription_id)
    except RoomlineError as exc:
        return problem(request, exc)
    result = f"HTTP {attempt['status_code']}" if attempt["status_code"] else attempt["error"]
    flash(request, f"Ping sent: {result} in {attempt['duration_ms']} ms.")
    return redirect(f"/web/webhooks/{subscription_id}")


@router.post("/web/webhooks/deliveries/{delivery_id}/replay", dependencies=[Depends(require_csrf)])
async def replay_delivery(request: Request, delivery_id: int) -> Response:
    try:
        replayed = await run(_webhooks(request).replay, delivery_id)
    except RoomlineError as exc:
        return problem(request, exc)
    _delivery(request).wake()
    flash(request, f"Delivery {delivery_id} is sent again now, with the same webhook-id.")
    return redirect(f"/web/webhooks/{replayed['subscription_id']}")


@router.post("/web/webhooks/{subscription_id}/rotate-secret", dependencies=[Depends(require_csrf)])
async def rotate_secret(request: Request, subscription_id: int) -> Response:
    """Give the subscription a new secret and show it, this once."""
    form = await request.form()
    text = str(form.get("keep_previous_hours") or "")
    try:
        hours = whole_number("keep_previous_hours", text, 0, MAX_KEEP_PREVIOUS_HOURS)
        rotated = await run(_webhooks(request).rotate_secret, subscription_id, hours)
    except RoomlineError as exc:
        return problem(request, exc)
    return render(
        request, "webhook_created.html", webhook=rotated.values, secret=rotated.secret, rotated=True
    )


@router.post("/web/webhooks/{subscription_id}/remove", dependencies=[Depends(require_csrf)])
async def remove_webhook(request: Request, subscription_id: int) -> Response:
    try:
        removed = await run(_webhooks(request).remove, subscription_id)
    except RoomlineError as exc:
        return problem(request, exc)
    flash(request, f"Webhook {subscription_id} to {removed['url']} removed.")
    return redirect("/web/webhooks")
