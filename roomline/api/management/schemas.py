"""Request and response bodies of the management API (snake_case JSON, unlike the wire).

These only shape and document the JSON; the rules (ranges, zones, ids) are checked by
the domain (``domain/masterdata.py``), the same for the API, the CLI and imports.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roomline.services.webhooks import DEFAULT_KEEP_PREVIOUS_HOURS


class _Body(BaseModel):
    # Strict: 0 is no boolean and "15" no number here, as on the Ultimo wire (found by
    # schema-driven fuzzing: {"bookable": 0} used to switch a space off).
    model_config = ConfigDict(extra="forbid", strict=True)


class NewSpace(_Body):
    id: str = Field(..., description="The id clients send as SpaceId.", examples=["C-25"])
    description: str = Field("", description="Shown to people; the 1015 message names it.")
    time_zone: str | None = Field(
        None, description="IANA zone, e.g. Europe/Amsterdam; null: the server's default zone."
    )
    preparation_minutes: int = Field(0, description="Blocked before each reservation (0-10080).")
    cleanup_minutes: int = Field(0, description="Blocked after each reservation (0-10080).")
    capacity: int | None = Field(None, description="Seats; null if not recorded.")
    bookable: bool = Field(True, description="Whether the space can be reserved.")
    building: str | None = Field(None, description="The building; null if not recorded.")
    floor: str | None = Field(
        None, description='The floor as text ("2", "B1"); null if not recorded.'
    )
    features: list[str] = Field(
        [],
        description="Short tags (lowercase letters, digits, hyphens), e.g. projector, video.",
        examples=[["projector", "video"]],
    )
    check_in_required: bool = Field(
        False, description="Whether reservations must be checked into at the door."
    )
    check_in_opens_minutes: int = Field(
        15, description="How long before a reservation's start check-in opens (0-1440)."
    )
    auto_release_minutes: int = Field(
        10,
        description="With check-in required: release a reservation nobody checked into this "
        "long after its start (0-1440; 0 never releases).",
    )


class Space(NewSpace):
    pass


class SpaceChange(_Body):
    """The fields to change; those left out stay as they are, null clears zone, capacity,
    building, floor or features."""

    description: str | None = None
    time_zone: str | None = None
    preparation_minutes: int | None = None
    cleanup_minutes: int | None = None
    capacity: int | None = None
    bookable: bool | None = None
    building: str | None = None
    floor: str | None = None
    features: list[str] | None = None
    check_in_required: bool | None = None
    check_in_opens_minutes: int | None = None
    auto_release_minutes: int | None = None


class Person(_Body):
    id: str = Field(..., description="The id clients send as ApplicantId.", examples=["ULTIMO"])
    name: str = Field("", description="Shown as ApplicantName.", examples=["Fasse, J."])


class PersonChange(_Body):
    name: str


class ImportResult(BaseModel):
    added: int
    updated: int


class NewKey(_Body):
    name: str = Field(..., description="A unique name, e.g. the panel or system using it.")
    workflows: list[str] | None = Field(
        None,
        description="Workflows and operations the key may call (create/update/cancel/get or "
        "full Ultimo names, and roomline's own series/find); null: all, including "
        "operations added later.",
    )
    ip_allow: str | None = Field(
        None,
        description="Ranges a-b or single addresses joined by ';' (IPv4, IPv6); null: any.",
        examples=["192.168.1.1-192.168.1.255;10.0.0.7"],
    )
    daily_quota: int | None = Field(None, description="Requests per day; null: no quota.")


class ApiKey(BaseModel):
    name: str
    status: str = Field(..., description="active or revoked")
    workflows: list[str] | None
    ip_allow: str | None
    daily_quota: int | None
    created_at: str
    revoked_at: str | None


class CreatedKey(ApiKey):
    secret: str = Field(
        ..., description="The 32-hex-digit secret for the ApiKey header; shown only now."
    )


class Reservation(BaseModel):
    ultimo_id: str
    space_id: str
    applicant_id: str
    applicant_name: str
    description: str
    start: str = Field(..., description="In the space's time zone, with its offset.")
    end: str
    start_including_preparation: str
    end_including_cleanup: str
    status: str
    external_id: str


class ReservationList(BaseModel):
    items: list[Reservation]
    truncated: bool = Field(..., description="True when more matched than the limit.")


class NewWebhook(_Body):
    url: str = Field(
        ...,
        description="Where to POST events: http or https; its addresses must be allowed by "
        "ROOMLINE_WEBHOOK_ALLOWED_NETWORKS (default: anything but loopback, link-local and "
        "cloud metadata addresses).",
        examples=["https://hooks.example.com/roomline"],
    )
    events: list[str] = Field(
        ...,
        description="Event types: reservation.created, reservation.updated, "
        "reservation.cancelled, reservation.checked_in, reservation.released, "
        "reservation.ended.",
        examples=[["reservation.created", "reservation.cancelled"]],
    )
    spaces: list[str] = Field(
        [], description="Only changes of these spaces; empty: every space.", examples=[["C-25"]]
    )


class Webhook(BaseModel):
    id: int = Field(..., examples=[1])
    url: str = Field(..., examples=["https://hooks.example.com/roomline"])
    events: list[str] = Field(..., examples=[["reservation.created", "reservation.cancelled"]])
    spaces: list[str] = Field(..., examples=[["C-25"]])
    status: str = Field(..., description="active or disabled", examples=["active"])
    disabled_reason: str | None = Field(None, examples=[None])
    disabled_at: str | None = Field(None, examples=[None])
    created_at: str = Field(..., examples=["2030-01-07T09:00:00+00:00"])
    start_cursor: str = Field(
        ...,
        description="The last change before it was added; it hears of later ones.",
        examples=["41"],
    )
    previous_secret_expires_at: str | None = Field(
        None,
        description="After a rotation, until when the secret it replaced also signs each "
        "delivery (a second signature); null when none does (never rotated, or its time is "
        "over).",
        examples=[None],
    )
    deliveries: dict[str, int] = Field(
        ...,
        description="How many deliveries are pending, succeeded, failed and disabled.",
        examples=[{"pending": 0, "succeeded": 12, "failed": 1, "disabled": 0}],
    )


class AddedWebhook(Webhook):
    secret: str = Field(
        ...,
        description="The signing secret (Standard Webhooks, whsec_ + base64); shown only now.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class SecretRotation(_Body):
    keep_previous_hours: int = Field(
        DEFAULT_KEEP_PREVIOUS_HOURS,
        description="How long the secret being replaced also signs deliveries, so the "
        "receiver can move to the new one without refusing any (0-168 hours; 0: not at all).",
        examples=[24],
    )


class WebhookAttempt(BaseModel):
    at: str = Field(..., examples=["2030-01-07T09:00:01+00:00"])
    status_code: int | None = Field(
        ..., description="The receiver's HTTP status; null when none came.", examples=[200]
    )
    error: str | None = Field(
        ...,
        description="Why no status came (refused target, timeout, connection).",
        examples=[None],
    )
    duration_ms: int = Field(..., examples=[12])
    response_excerpt: str = Field(
        ..., description="The start of the receiver's answer (at most 1 KiB).", examples=["ok"]
    )


class PingAttempt(WebhookAttempt):
    delivery_id: int = Field(..., examples=[7])


class WebhookDelivery(BaseModel):
    id: int = Field(..., examples=[7])
    message_id: str = Field(
        ...,
        description="The webhook-id header of every attempt and replay.",
        examples=["msg_2b4dXc0bEJ6o1n6qYyA2lq9S"],
    )
    subscription_id: int = Field(..., examples=[1])
    type: str = Field(..., examples=["reservation.created"])
    cursor: str | None = Field(..., description="The change's cursor; null for a ping.")
    status: str = Field(
        ...,
        description="pending, succeeded, failed (given up) or disabled (410 Gone).",
        examples=["succeeded"],
    )
    attempt_count: int = Field(..., description="Attempts since it was made or replayed.")
    next_attempt_at: str | None = Field(..., description="When a pending one is sent next.")
    created_at: str
    payload: dict[str, Any] = Field(..., description="The body sent: type, timestamp, data.")
    attempts: list[WebhookAttempt]


class NewFeed(_Body):
    """Exactly one of space_id and applicant_id."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"space_id": "C-25", "name": "Front office screen"},
                {"applicant_id": "ULTIMO"},
            ]
        },
    )

    space_id: str | None = Field(None, description="The feed shows this space's reservations.")
    applicant_id: str | None = Field(
        None, description="The feed shows this person's reservations, in every space."
    )
    name: str = Field("", description="A label for the list, e.g. who subscribes.")


class CalendarFeed(BaseModel):
    id: int = Field(..., description="The id `DELETE` and `roomline feeds revoke` take.")
    scope: str = Field(..., description="space or applicant", examples=["space"])
    space_id: str | None = Field(..., examples=["C-25"])
    applicant_id: str | None = Field(..., examples=[None])
    name: str = Field(..., examples=["Front office screen"])
    status: str = Field(..., description="active or revoked", examples=["active"])
    created_at: str = Field(..., examples=["2030-01-07T09:00:00Z"])
    revoked_at: str | None = Field(..., examples=[None])


class CreatedFeed(CalendarFeed):
    token: str = Field(
        ...,
        description="The secret in the feed's URL; only its hash is stored, so it is shown "
        "only now.",
        examples=["kD0o1q8Xx0b3Qw1d5Vj4u3mT6gkq7JjR2n1wq9ZC8sE"],
    )
    path: str = Field(..., examples=["/feeds/kD0o1q8Xx0b3Qw1d5Vj4u3mT6gkq7JjR2n1wq9ZC8sE.ics"])
    url: str = Field(
        ...,
        description="The URL to paste into a calendar app: ROOMLINE_PUBLIC_URL, else the "
        "address this request was sent to, plus the path.",
        examples=[
            "https://rooms.example.com/feeds/kD0o1q8Xx0b3Qw1d5Vj4u3mT6gkq7JjR2n1wq9ZC8sE.ics"
        ],
    )
    webcal_url: str | None = Field(
        ...,
        description="The same as webcal://, which opens the calendar app to subscribe.",
        examples=[
            "webcal://rooms.example.com/feeds/kD0o1q8Xx0b3Qw1d5Vj4u3mT6gkq7JjR2n1wq9ZC8sE.ics"
        ],
    )
