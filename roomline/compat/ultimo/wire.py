"""Reading Ultimo workflow requests as real clients send them.

Tolerant by default (SPEC §1): property names match case-insensitively, ``Applicant`` is
an alias of ``ApplicantId``, ExternalId and Description may be empty or absent, unknown
properties are ignored, an update may carry only one of its times, and the
ApplicationElementId header may be missing. Strict mode refuses each of these
deviations from the documented contract, except the documented ``Applicant`` spelling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from roomline.domain.errors import (
    DuplicateParameter,
    InvalidApplicationElementId,
    InvalidBody,
    InvalidParameter,
    RequiredParameterMissing,
    UnknownParameter,
    WrongParameterCasing,
)
from roomline.services.reservations import NewReservation, TimeChange, Window

CREATE = "REST_CreateReservation"
UPDATE = "REST_UpdateReservation"
CANCEL = "REST_CancelReservation"
GET = "REST_GetReservationsForSpace"
WORKFLOWS = (CREATE, UPDATE, CANCEL, GET)

MAX_ID_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 2000
MAX_TIME_LENGTH = 64
# C0 controls and DEL are refused everywhere; a description may hold tab and line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DESCRIPTION_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ULTIMO_ID = re.compile(r"\d{1,11}", re.ASCII)  # "٦٧١٢" must not name 6712
_HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    required: bool
    max_length: int
    aliases: tuple[str, ...] = ()


FIELDS: dict[str, tuple[Field, ...]] = {
    CREATE: (
        Field("ExternalId", False, MAX_ID_LENGTH),
        Field("Description", False, MAX_DESCRIPTION_LENGTH),
        Field("SpaceId", True, MAX_ID_LENGTH),
        Field("StartTime", True, MAX_TIME_LENGTH),
        Field("EndTime", True, MAX_TIME_LENGTH),
        # The documented create example spells it "Applicant".
        Field("ApplicantId", True, MAX_ID_LENGTH, aliases=("Applicant",)),
    ),
    # Update's times are checked together below: tolerant mode needs one, strict both.
    UPDATE: (
        Field("UltimoId", True, MAX_ID_LENGTH),
        Field("StartTime", False, MAX_TIME_LENGTH),
        Field("EndTime", False, MAX_TIME_LENGTH),
    ),
    CANCEL: (Field("UltimoId", True, MAX_ID_LENGTH),),
    GET: (
        Field("SpaceId", True, MAX_ID_LENGTH),
        Field("From", True, MAX_TIME_LENGTH),
        Field("Till", True, MAX_TIME_LENGTH),
    ),
}


def parse_body(raw: bytes) -> dict[str, Any]:
    """Return the body as a JSON object, or refuse it."""
    if not raw.strip():
        raise InvalidBody("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(f"The request body is not valid UTF-8 JSON: {exc.msg}.") from exc
    if not isinstance(body, dict):
        raise InvalidBody(f"The request body must be a JSON object, not {_json_kind(body)}.")
    twice = _name_given_twice(raw, len(body))
    if twice is not None:
        raise DuplicateParameter(f"Property {_quote(twice)} is given twice.")
    return body


# Nested objects become lists of pairs too; only the outermost one is looked at. Numbers
# are not converted (a 5000-digit one would exceed int()'s digit limit). Built once: a
# decoder per request cost as much as the rest of reading the body.
_PAIRS = json.JSONDecoder(object_pairs_hook=lambda items: items, parse_int=len, parse_float=len)


def _name_given_twice(raw: bytes, distinct: int) -> str | None:
    """Return a property name the body's object gives more than once, if any.

    orjson silently keeps the last of two equal names; a proxy or logger in front may have
    read the first, so the request is refused rather than guessed at.
    """
    try:
        # orjson has read the body, so it is UTF-8 (decoded as json.loads would).
        pairs = _PAIRS.decode(raw.decode("utf-8", "surrogatepass"))
    except RecursionError:  # nested deeper than this parser goes: not refused for a doubt
        return None
    if len(pairs) == distinct:
        return None
    seen: set[str] = set()
    for name, _value in pairs:
        if name in seen:
            return str(name)
        seen.add(name)
    return None  # pragma: no cover - len(pairs) > distinct means a name repeats


# Each workflow's fields by every spelling of their names, lower-cased.
_SPELLINGS: dict[str, dict[str, Field]] = {
    workflow: {
        spelling.lower(): field for field in fields for spelling in (field.name, *field.aliases)
    }
    for workflow, fields in FIELDS.items()
}


def read_parameters(workflow: str, body: dict[str, Any], strict: bool) -> dict[str, str]:
    """Return the workflow's parameters by their documented names, validated as text."""
    fields = FIELDS[workflow]
    by_lower = _SPELLINGS[workflow]
    given: dict[str, tuple[str, Any]] = {}
    for key, value in body.items():
        found = by_lower.get(key.lower())
        if found is None:
            if strict:
                raise UnknownParameter(
                    f"Property {_quote(key)} is not a parameter of {workflow} (strict mode)."
                )
            continue
        field = found
        if strict and key not in (field.name, *field.aliases):
            raise WrongParameterCasing(
                f"Property {_quote(key)} must be spelled {field.name!r} (strict mode)."
            )
        if field.name in given:
            raise DuplicateParameter(
                f"{field.name} is given twice, as {_quote(given[field.name][0])} and {_quote(key)}."
            )
        given[field.name] = (key, value)

    values: dict[str, str] = {}
    for field in fields:
        if field.name not in given or given[field.name][1] is None:
            if field.required:
                raise RequiredParameterMissing(f"{field.name} is required.")
            continue
        values[field.name] = _text(field, given[field.name][1])
    return values


def _text(field: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"{field.name} must be a string, not {_json_kind(value)}.")
    if field.required and not value.strip():
        raise RequiredParameterMissing(f"{field.name} must not be empty.")
    if len(value) > field.max_length:
        raise InvalidParameter(
            f"{field.name} is {len(value)} characters long; at most {field.max_length} are allowed."
        )
    control = _DESCRIPTION_CONTROL if field.name == "Description" else _CONTROL
    if control.search(value):
        raise InvalidParameter(f"{field.name} must not contain control characters.")
    return value


def new_reservation(values: dict[str, str]) -> NewReservation:
    return NewReservation(
        space_id=values["SpaceId"],
        applicant_id=values["ApplicantId"],
        start_time=values["StartTime"],
        end_time=values["EndTime"],
        description=values.get("Description", ""),
        external_id=values.get("ExternalId", ""),
    )


def time_change(values: dict[str, str], strict: bool) -> TimeChange:
    start, end = values.get("StartTime"), values.get("EndTime")
    if strict and (start is None or end is None):
        missing = "StartTime" if start is None else "EndTime"
        raise RequiredParameterMissing(f"{missing} is required (strict mode).")
    if start is None and end is None:
        raise RequiredParameterMissing("StartTime or EndTime (or both) is required.")
    return TimeChange(ultimo_id(values["UltimoId"]), start, end)


def window(values: dict[str, str]) -> Window:
    return Window(values["SpaceId"], values["From"], values["Till"])


def ultimo_id(text: str) -> int:
    """Read an UltimoId: up to 11 decimal digits, leading zeros optional."""
    if not _ULTIMO_ID.fullmatch(text):
        raise InvalidParameter(
            f"UltimoId {text!r} is not valid; it is up to 11 digits, e.g. '00000006712'."
        )
    return int(text)


def format_ultimo_id(value: int) -> str:
    return f"{value:011d}"


def check_application_element_id(
    workflow: str, header: str | None, expected: str, strict: bool
) -> None:
    """Compare the header with the workflow's GUID, ignoring case, hyphens and braces."""
    if header is None:
        if strict:
            raise RequiredParameterMissing(
                f"The ApplicationElementId header is required (strict mode); {workflow} "
                f"expects {expected}."
            )
        return
    given = normalize_guid(header)
    if given is None or given != normalize_guid(expected):
        raise InvalidApplicationElementId(
            f"ApplicationElementId {header[:64]!r} does not belong to {workflow}; "
            f"expected {expected}."
        )


def normalize_guid(value: str) -> str | None:
    candidate = value.strip().strip("{}").replace("-", "").lower()
    return candidate if _HEX32.fullmatch(candidate) else None


def _quote(key: str) -> str:
    return repr(key[:64])


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"
