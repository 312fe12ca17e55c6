"""Checking that a webhook came from roomline (Standard Webhooks signatures)::

    from roomline.client import InvalidWebhook, verify_webhook

    event = verify_webhook(secret, request_body_bytes, request_headers)
    if event.type == "reservation.created": ...

The signature covers ``webhook-id``, ``webhook-timestamp`` and the exact body bytes; a
timestamp more than five minutes from this machine's clock is refused, so a recorded
request cannot be replayed later. ``event.id`` (the ``webhook-id``) stays the same across
retries and replays: keep the ids you have handled to act on each event once.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from roomline.client.errors import UltimoError


class InvalidWebhook(UltimoError):
    """A webhook whose signature does not match, or whose timestamp is too old or new."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified webhook: ``type`` (e.g. reservation.created), ``timestamp`` (ISO 8601)
    and ``data`` (for a reservation event, the change as the change feed shows it)."""

    id: str
    type: str
    timestamp: str
    data: dict[str, Any]


def verify_webhook(secret: str, body: bytes | str, headers: Mapping[str, str]) -> WebhookEvent:
    """Verify a delivery's signature with the subscription's ``whsec_`` secret and return
    its event; raise ``InvalidWebhook`` saying what is wrong."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        parsed = Webhook(secret).verify(body, lowered)
    except WebhookVerificationError as exc:
        raise InvalidWebhook("InvalidWebhook", f"The webhook is not authentic: {exc}.") from exc
    except (ValueError, binascii.Error) as exc:
        raise InvalidWebhook(
            "InvalidWebhook", f"The webhook's secret or signature cannot be read: {exc}."
        ) from exc
    if not (isinstance(parsed, dict) and {"type", "timestamp", "data"} <= parsed.keys()):
        raise InvalidWebhook(
            "InvalidWebhook", "The webhook body is not an event {type, timestamp, data}."
        )
    return WebhookEvent(
        id=lowered["webhook-id"],
        type=str(parsed["type"]),
        timestamp=str(parsed["timestamp"]),
        data=parsed["data"] if isinstance(parsed["data"], dict) else {"value": parsed["data"]},
    )
