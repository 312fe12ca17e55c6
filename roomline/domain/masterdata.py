"""What makes a space or a person valid, read from loosely typed values.

The CLI hands over text, the management API JSON values, an import file either; all of
them go through ``space_from_values`` / ``person_from_values`` so the rules hold the same
everywhere: ids are non-empty single-line text, time zones are real IANA zones,
preparation and cleanup minutes are whole numbers from 0 to a week, capacity is absent or
a whole number of at least 0, building and floor short optional text, features a list
of short tags (lowercase letters, digits and hyphens) given as a list or as text joined
by commas; check-in rules (``check_in_required``, ``check_in_opens_minutes``,
``auto_release_minutes``) a flag and whole minutes from 0 to a day. Every refusal names the field and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from roomline.domain.errors import InvalidParameter, RequiredParameterMissing
from roomline.domain.reservations import Person, Space
from roomline.domain.times import zone_named

SPACE_FIELDS = (
    "id",
    "description",
    "time_zone",
    "preparation_minutes",
    "cleanup_minutes",
    "capacity",
    "bookable",
    "building",
    "floor",
    "features",
    "check_in_required",
    "check_in_opens_minutes",
    "auto_release_minutes",
)
PERSON_FIELDS = ("id", "name")

MAX_ID_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 2000
MAX_NAME_LENGTH = 500
MAX_BUFFER_MINUTES = 7 * 24 * 60
MAX_CAPACITY = 1_000_000
MAX_RULE_MINUTES = 24 * 60  # check-in opening and auto-release
MAX_BUILDING_LENGTH = 255
MAX_FLOOR_LENGTH = 64
MAX_FEATURES = 32
FEATURE_TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def space_from_values(values: Mapping[str, Any]) -> Space:
    """Build a Space from ``values`` (field → text or JSON value); refuse unknown fields."""
    _refuse_unknown(values, SPACE_FIELDS)
    zone = _optional_text(values, "time_zone", 64)
    if zone is not None:
        try:
            zone_named(zone)
        except InvalidParameter as exc:
            raise InvalidParameter(
                f"time_zone {zone!r} is not an IANA time zone such as Europe/Amsterdam; "
                "leave it out for the server's default zone."
            ) from exc
    return Space(
        id=identifier(values.get("id"), "id"),
        description=_text(values, "description", MAX_DESCRIPTION_LENGTH),
        time_zone=zone,
        preparation_minutes=_whole(values, "preparation_minutes", MAX_BUFFER_MINUTES) or 0,
        cleanup_minutes=_whole(values, "cleanup_minutes", MAX_BUFFER_MINUTES) or 0,
        capacity=_whole(values, "capacity", MAX_CAPACITY),
        bookable=_flag(values, "bookable", default=True),
        building=_optional_text(values, "building", MAX_BUILDING_LENGTH),
        floor=_optional_text(values, "floor", MAX_FLOOR_LENGTH),
        features=features_from(values.get("features")),
        check_in_required=_flag(values, "check_in_required", default=False),
        check_in_opens_minutes=_minutes(values, "check_in_opens_minutes", 15),
        auto_release_minutes=_minutes(values, "auto_release_minutes", 10),
    )


def _minutes(values: Mapping[str, Any], field: str, default: int) -> int:
    """Read a check-in rule's minutes: 0 to a day, ``default`` when left out."""
    value = _whole(values, field, MAX_RULE_MINUTES)
    return default if value is None else value


def person_from_values(values: Mapping[str, Any]) -> Person:
    """Build a Person from ``values``; refuse unknown fields."""
    _refuse_unknown(values, PERSON_FIELDS)
    return Person(
        id=identifier(values.get("id"), "id"),
        name=_text(values, "name", MAX_NAME_LENGTH),
    )


def space_values(space: Space) -> dict[str, Any]:
    """Return ``space`` as field → value, the inverse of ``space_from_values``."""
    return {
        "id": space.id,
        "description": space.description,
        "time_zone": space.time_zone,
        "preparation_minutes": space.preparation_minutes,
        "cleanup_minutes": space.cleanup_minutes,
        "capacity": space.capacity,
        "bookable": space.bookable,
        "building": space.building,
        "floor": space.floor,
        "features": list(space.features),
        "check_in_required": space.check_in_required,
        "check_in_opens_minutes": space.check_in_opens_minutes,
        "auto_release_minutes": space.auto_release_minutes,
    }


def features_from(value: Any) -> tuple[str, ...]:
    """Read a space's features: a list of tags or text joined by commas; blank: none.

    Tags are lowercased, deduplicated and sorted, so a space's features compare and
    print the same however they were typed.
    """
    if _is_blank(value):
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidParameter(
            f"features must be a list of tags or text joined by commas, not {value!r}."
        )
    tags = set()
    for item in items:
        if not isinstance(item, str):
            raise InvalidParameter(f"features must be text tags, not {item!r}.")
        tag = item.strip().lower()
        if not tag:
            continue
        if not FEATURE_TAG.fullmatch(tag):
            raise InvalidParameter(
                f"feature {item.strip()[:40]!r} is not a short tag: use up to 32 lowercase "
                "letters, digits and hyphens, such as projector or wheelchair."
            )
        tags.add(tag)
    if len(tags) > MAX_FEATURES:
        raise InvalidParameter(f"A space has at most {MAX_FEATURES} features, not {len(tags)}.")
    return tuple(sorted(tags))


def person_values(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.name}


def identifier(value: Any, field: str) -> str:
    """Read an id: non-empty text of at most 255 characters, no control characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RequiredParameterMissing(f"{field} is required.")
    if not isinstance(value, str):
        raise InvalidParameter(f"{field} must be text, not {type(value).__name__}.")
    text = value.strip()
    if len(text) > MAX_ID_LENGTH:
        raise InvalidParameter(f"{field} is longer than {MAX_ID_LENGTH} characters.")
    if _CONTROL.search(text):
        raise InvalidParameter(f"{field} must not contain control characters.")
    return text


def _refuse_unknown(values: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = [name for name in values if name not in known]
    if unknown:
        raise InvalidParameter(
            f"Unknown field {', '.join(repr(str(name)) for name in unknown)}; "
            f"the fields are {', '.join(known)}."
        )


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(values: Mapping[str, Any], field: str, max_length: int) -> str:
    value = values.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"{field} must be text, not {type(value).__name__}.")
    text = value.strip()
    if len(text) > max_length:
        raise InvalidParameter(f"{field} is longer than {max_length} characters.")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise InvalidParameter(f"{field} must not contain control characters.")
    return text


def _optional_text(values: Mapping[str, Any], field: str, max_length: int) -> str | None:
    if _is_blank(values.get(field)):
        return None
    return _text(values, field, max_length)


def _whole(values: Mapping[str, Any], field: str, maximum: int) -> int | None:
    value = values.get(field)
    if _is_blank(value):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParameter(f"{field} must be a whole number, not {value!r}.")
    if not 0 <= value <= maximum:
        raise InvalidParameter(f"{field} must be between 0 and {maximum}, not {value}.")
    return value


def _flag(values: Mapping[str, Any], field: str, *, default: bool) -> bool:
    value = values.get(field)
    if _is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidParameter(f"{field} must be true or false, not {value!r}.")
