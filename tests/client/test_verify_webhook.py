"""``roomline.client.verify_webhook`` accepts what Standard Webhooks signs and refuses the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from roomline.client import InvalidWebhook, WebhookEvent, verify_webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = json.dumps(
    {
        "type": "reservation.created",
        "timestamp": "2030-01-07T10:00:00+01:00",
        "data": {"cursor": "7"},
    }
)


def signed(body: str = BODY, at: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "Webhook-Id": "msg_1",
        "Webhook-Timestamp": str(int(at.timestamp())),
        "Webhook-Signature": Webhook(secret).sign("msg_1", at, body),
    }


def test_a_signed_event_is_returned() -> None:
    assert verify_webhook(SECRET, BODY.encode(), signed()) == WebhookEvent(
        id="msg_1",
        type="reservation.created",
        timestamp="2030-01-07T10:00:00+01:00",
        data={"cursor": "7"},
    )


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (BODY.replace("7", "8"), lambda: signed(), "No matching signature"),
        (BODY, lambda: signed(secret="whsec_" + "A" * 32), "No matching signature"),
        (BODY, lambda: signed(at=datetime.now(UTC) - timedelta(minutes=10)), "too old"),
        (BODY, lambda: {"webhook-id": "msg_1"}, "Missing required headers"),
        (BODY, lambda: {**signed(), "Webhook-Signature": "garbage"}, "cannot be read"),
    ],
    ids=["changed body", "other secret", "too old", "no signature", "unreadable signature"],
)
def test_anything_else_is_refused_clearly(
    body: str, headers: Callable[[], dict[str, str]], reason: str
) -> None:
    # Signed when the test runs, not when it is collected: a long suite would make
    # every timestamp "too old".
    with pytest.raises(InvalidWebhook, match=reason) as refused:
        verify_webhook(SECRET, body, headers())
    assert refused.value.code == "InvalidWebhook"
