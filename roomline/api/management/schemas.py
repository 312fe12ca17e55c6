"""Request and response bodies of the management API (snake_case JSON, unlike the wire).

These only shape and document the JSON; the rules (ranges, zones, ids) are checked by
the domain (``domain/masterdata.py``), the same for the API, the CLI and imports.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
