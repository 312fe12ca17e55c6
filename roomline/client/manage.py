"""roomline's management API (``/api/manage``) on the wire, from the client's side:
webhook subscriptions, calendar feeds and utilisation reports.

The sync and async management clients share everything here. They send the
administrator's token (``ROOMLINE_ADMIN_TOKEN``) as a bearer token, and answer the API's
JSON as it is documented (docs/webhooks.md, docs/calendar-feeds.md, docs/reports.md):
objects as dicts, lists as lists of dicts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from roomline import __version__
from roomline.client import booking
from roomline.client.options import ClientOptions
from roomline.client.retry import RetryPolicy
from roomline.client.wire import Call, _invalid, _json

PREFIX = "/api/manage"


@dataclass(frozen=True)
class ManageOptions(ClientOptions):
    """Where to send a management call, with the administrator's token."""

    @classmethod
    def for_admin(cls, base_url: str, admin_token: str, retry: RetryPolicy | None) -> ManageOptions:
        return cls(base_url.rstrip("/"), admin_token, {}, retry or RetryPolicy())

    def headers(self, call: Call) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"roomline-client/{__version__}",
        }


# One ``/api/manage`` request (``booking.call`` under this prefix).
call = functools.partial(booking.call, prefix=PREFIX)

# An answer's JSON object, read as the booking API's are.
obj = booking.answer


def objects(response: httpx.Response) -> list[dict[str, Any]]:
    """Read an answer's JSON array of objects."""
    body = _json(response)
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise _invalid(response, "the body is not a JSON array of objects")
    return body


# -- webhooks -------------------------------------------------------------------------


def add_webhook_call(url: str, events: Sequence[str], spaces: Sequence[str]) -> Call:
    body = {"url": url, "events": list(events), "spaces": list(spaces)}
    return call("webhooks.add", "POST", "/webhooks", body=body, idempotent=False)


def rotate_secret_call(subscription_id: int, keep_previous_hours: int) -> Call:
    path = f"/webhooks/{subscription_id}/rotate-secret"
    body = {"keep_previous_hours": keep_previous_hours}
    return call("webhooks.rotate_secret", "POST", path, body=body, idempotent=False)


def list_webhooks_call() -> Call:
    return call("webhooks.list", "GET", "/webhooks", idempotent=True)


def remove_webhook_call(subscription_id: int) -> Call:
    return call("webhooks.remove", "DELETE", f"/webhooks/{subscription_id}", idempotent=True)


def deliveries_call(subscription_id: int, failed: bool, limit: int | None) -> Call:
    params = {"failed": "true" if failed else "false"}
    if limit is not None:
        params["limit"] = str(limit)
    path = f"/webhooks/{subscription_id}/deliveries"
    return call("webhooks.deliveries", "GET", path, params=params, idempotent=True)


def replay_call(delivery_id: int) -> Call:
    path = f"/webhooks/deliveries/{delivery_id}/replay"
    return call("webhooks.replay", "POST", path, idempotent=False)


def ping_call(subscription_id: int) -> Call:
    path = f"/webhooks/{subscription_id}/ping"
    return call("webhooks.ping", "POST", path, idempotent=False)


# -- calendar feeds -------------------------------------------------------------------


def create_feed_call(space_id: str | None, applicant_id: str | None, name: str | None) -> Call:
    given = {"space_id": space_id, "applicant_id": applicant_id, "name": name}
    body = {key: value for key, value in given.items() if value is not None}
    return call("feeds.create", "POST", "/feeds", body=body, idempotent=False)


def list_feeds_call(space_id: str | None) -> Call:
    params = {"space": space_id} if space_id is not None else None
    return call("feeds.list", "GET", "/feeds", params=params, idempotent=True)


def revoke_feed_call(feed_id: int) -> Call:
    return call("feeds.revoke", "DELETE", f"/feeds/{feed_id}", idempotent=True)


# -- reports --------------------------------------------------------------------------


def utilisation_call(first: date | str, till: date | str, group: str, format: str) -> Call:
    params = {"from": str(first), "till": str(till), "group": group, "format": format}
    return call(
        "reports.utilisation", "GET", "/reports/utilisation", params=params, idempotent=True
    )
