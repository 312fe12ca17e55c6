"""``roomline demo --fixture FILE``: an integrator's own demo data, in JSON or TOML.

A fixture names spaces, people, API keys (with their secrets, so tests can hard-code
them), reservations and the clock. ``read_fixture`` checks all of it before anything is
stored and refuses it with every problem found (``FixtureRejected``: "file: entry:
reason"); ``load_fixture`` then stores it in one transaction, so a fixture is loaded
whole or not at all. See docs/testing-integrations.md for the format.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from roomline.config import DOCUMENTED_APPLICATION_ELEMENT_IDS
from roomline.domain.errors import FixtureRejected, RoomlineError
from roomline.domain.masterdata import person_from_values, space_from_values
from roomline.domain.reservations import (
    Interval,
    Person,
    ReservationStatus,
    Space,
    blocked_interval,
)
from roomline.domain.times import parse_instant, zone_named
from roomline.services import clock
from roomline.services.demo import is_empty
from roomline.services.keys import WORKFLOWS, canonical_ip_allow, store_key
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.tables import api_keys

SECTIONS = (
    "clock",
    "next_ultimo_id",
    "application_element_ids",
    "spaces",
    "people",
    "keys",
    "reservations",
)
KEY_FIELDS = ("name", "secret", "workflows", "ip_allow", "daily_quota")
RESERVATION_FIELDS = (
    "ultimo_id",
    "space_id",
    "applicant_id",
    "description",
    "start",
    "end",
    "external_id",
    "status",
)
MAX_ULTIMO_ID = 99_999_999_999  # 11 digits
_SECRET = re.compile(r"[0-9A-Fa-f]{32}")
_GUID = re.compile(r"\{?[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}\}?")
CREATED_AT = datetime(2021, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FixtureKey:
    name: str
    secret: str
    workflows: list[str] | None
    ip_allow: str | None
    daily_quota: int | None


@dataclass(frozen=True)
class FixtureReservation:
    ultimo_id: int
    space: Space
    applicant_id: str
    description: str
    start: datetime
    end: datetime
    external_id: str
    status: ReservationStatus

    @property
    def cancelled(self) -> bool:
        return self.status is ReservationStatus.CANCELLED


@dataclass
class Fixture:
    """A checked fixture, ready to load."""

    path: str
    clock: str | None = None  # an ISO 8601 instant, or "system"
    next_ultimo_id: int | None = None
    application_element_ids: dict[str, str] = field(default_factory=dict)
    spaces: list[Space] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    keys: list[FixtureKey] = field(default_factory=list)
    reservations: list[FixtureReservation] = field(default_factory=list)


class _Problems:
    """Collects "file: entry: reason" lines."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, entry: str, reason: str) -> None:
        self.lines.append(f"{self.path}: {entry}: {reason}")

    def check(self, entry: str, step: Callable[[], Any]) -> Any:
        """Run ``step``; record its refusal under ``entry`` and return None instead."""
        try:
            return step()
        except RoomlineError as exc:
            self.add(entry, exc.message)
            return None


def read_fixture(path: str | Path) -> Fixture:
    """Read and check the fixture at ``path``; raise ``FixtureRejected`` listing every
    problem."""
    name = str(path)
    problems = _Problems(name)
    document = _parse(Path(path), problems)
    fixture = Fixture(path=name)
    if document is not None:
        _check(document, fixture, problems)
    if problems.lines:
        raise _rejected(name, problems.lines)
    return fixture


def _rejected(path: str, lines: list[str]) -> FixtureRejected:
    count = len(lines)
    return FixtureRejected(
        f"the fixture {path} is refused ({count} problem{'s' * (count != 1)}); nothing was loaded",
        lines,
    )


def _parse(path: Path, problems: _Problems) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.add("file", f"cannot be read: {exc.strerror or exc}")
        return None
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        problems.add("file", "name it *.json or *.toml, so its format is known")
        return None
    try:
        text = data.decode("utf-8")
        document = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except UnicodeDecodeError:
        problems.add("file", "is not UTF-8 text")
        return None
    except json.JSONDecodeError as exc:
        problems.add(f"line {exc.lineno}", f"not valid JSON: {exc.msg}")
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.add("file", f"not valid TOML: {exc}")
        return None
    if not isinstance(document, dict):
        problems.add("file", "must hold an object with spaces, people, keys, reservations")
        return None
    return document


def _check(document: dict[str, Any], fixture: Fixture, problems: _Problems) -> None:
    for unknown in sorted(set(document) - set(SECTIONS)):
        problems.add(unknown, f"unknown section; the sections are {', '.join(SECTIONS)}")
    _check_clock(document.get("clock"), fixture, problems)
    _check_element_ids(document.get("application_element_ids"), fixture, problems)
    for index, values in _entries(document, "spaces", problems):
        space = problems.check(_label("spaces", index, values), partial(space_from_values, values))
        if space is not None:
            _unique(fixture.spaces, space, "spaces", index, problems)
    for index, values in _entries(document, "people", problems):
        person = problems.check(
            _label("people", index, values), partial(person_from_values, values)
        )
        if person is not None:
            _unique(fixture.people, person, "people", index, problems)
    for index, values in _entries(document, "keys", problems):
        _check_key(index, values, fixture, problems)
    reservations = [
        (index, values) for index, values in _entries(document, "reservations", problems)
    ]
    _check_reservations(reservations, fixture, problems)
    _check_numbering(document.get("next_ultimo_id"), fixture, problems)


def _entries(
    document: dict[str, Any], section: str, problems: _Problems
) -> list[tuple[int, dict[str, Any]]]:
    values = document.get(section, [])
    if not isinstance(values, list):
        problems.add(section, "must be a list of entries")
        return []
    found = []
    for index, value in enumerate(values):
        if isinstance(value, dict):
            found.append((index, value))
        else:
            problems.add(f"{section}[{index}]", "must be an object of fields")
    return found


def _label(section: str, index: int, values: Mapping[str, Any]) -> str:
    ident = values.get("id", values.get("name", values.get("ultimo_id")))
    return f"{section}[{index}]" + (f" ({ident})" if isinstance(ident, str | int) else "")


def _unique(found: list[Any], item: Any, section: str, index: int, problems: _Problems) -> None:
    if any(other.id == item.id for other in found):
        problems.add(f"{section}[{index}] ({item.id})", f"id {item.id!r} is given twice")
    else:
        found.append(item)


def _check_clock(value: Any, fixture: Fixture, problems: _Problems) -> None:
    if value is None:
        return
    if isinstance(value, datetime):
        if value.tzinfo is None:
            problems.add("clock", "give the instant with Z or an offset")
            return
        fixture.clock = value.isoformat()
        return
    if not isinstance(value, str):
        problems.add("clock", "must be an ISO 8601 instant (with Z or an offset) or 'system'")
        return
    if value.strip().lower() == "system":
        fixture.clock = "system"
        return
    if problems.check("clock", lambda: parse_instant("clock", value, zone_named("UTC"))):
        fixture.clock = value


def _check_element_ids(value: Any, fixture: Fixture, problems: _Problems) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.add("application_element_ids", "must map workflow names to GUIDs")
        return
    for workflow, guid in value.items():
        entry = f"application_element_ids.{workflow}"
        if workflow not in DOCUMENTED_APPLICATION_ELEMENT_IDS:
            problems.add(entry, f"unknown workflow; the workflows are {', '.join(WORKFLOWS)}")
        elif not isinstance(guid, str) or not _GUID.fullmatch(guid):
            problems.add(entry, "must be a GUID such as 0167a94a-5dae-4efe-bf13-029a47728b97")
        else:
            fixture.application_element_ids[workflow] = guid


def _check_key(index: int, values: dict[str, Any], fixture: Fixture, problems: _Problems) -> None:
    entry = _label("keys", index, values)
    before = len(problems.lines)
    for unknown in sorted(set(values) - set(KEY_FIELDS)):
        problems.add(entry, f"unknown field {unknown!r}; the fields are {', '.join(KEY_FIELDS)}")
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(entry, "name is required: a non-empty text")
    elif any(key.name == name for key in fixture.keys):
        problems.add(entry, f"name {name!r} is given twice")
    secret = values.get("secret")
    if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        problems.add(entry, "secret is required: 32 hexadecimal digits, as Ultimo's keys are")
    elif any(key.secret.upper() == secret.upper() for key in fixture.keys):
        problems.add(entry, "secret is given to another key too")
    workflows = values.get("workflows")
    if workflows is not None and (
        not isinstance(workflows, list) or not set(workflows) <= set(WORKFLOWS)
    ):
        problems.add(entry, f"workflows must be a list of {', '.join(WORKFLOWS)}")
    ip_allow = values.get("ip_allow")
    if ip_allow is not None and not isinstance(ip_allow, str):
        problems.add(entry, "ip_allow must be text such as '127.0.0.1;::1'")
    elif ip_allow is not None:
        ip_allow = problems.check(entry, lambda: canonical_ip_allow(ip_allow))
    quota = values.get("daily_quota")
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 0):
        problems.add(entry, "daily_quota must be a whole number of 0 or more")
    if len(problems.lines) == before:
        assert isinstance(name, str) and isinstance(secret, str)
        fixture.keys.append(FixtureKey(name, secret.upper(), workflows, ip_allow, quota))


def _check_reservations(
    entries: list[tuple[int, dict[str, Any]]], fixture: Fixture, problems: _Problems
) -> None:
    spaces = {space.id: space for space in fixture.spaces}
    people = {person.id for person in fixture.people}
    given = [values.get("ultimo_id") for _index, values in entries]
    numbers = [number for number in given if isinstance(number, int)]
    next_number = max(numbers, default=0) + 1
    taken: set[int] = set()
    for index, values in entries:
        entry = _label("reservations", index, values)
        before = len(problems.lines)
        for unknown in sorted(set(values) - set(RESERVATION_FIELDS)):
            problems.add(
                entry, f"unknown field {unknown!r}; the fields are {', '.join(RESERVATION_FIELDS)}"
            )
        number = values.get("ultimo_id")
        if number is None:
            number, next_number = next_number, next_number + 1
        elif isinstance(number, bool) or not isinstance(number, int):
            problems.add(entry, "ultimo_id must be a whole number")
        elif not 1 <= number <= MAX_ULTIMO_ID:
            problems.add(entry, f"ultimo_id must be from 1 to {MAX_ULTIMO_ID}")
        elif number in taken:
            problems.add(entry, f"ultimo_id {number} is given twice")
        space = spaces.get(values.get("space_id"))  # type: ignore[arg-type]
        if space is None:
            problems.add(
                entry, f"space_id {values.get('space_id')!r} names no space of the fixture"
            )
        if values.get("applicant_id") not in people:
            problems.add(
                entry, f"applicant_id {values.get('applicant_id')!r} names no person of the fixture"
            )
        status = values.get("status", ReservationStatus.PROCESSED.value)
        if status not in (ReservationStatus.PROCESSED.value, ReservationStatus.CANCELLED.value):
            problems.add(entry, "status must be 'Processed' or 'Cancelled'")
        description = values.get("description", "")
        external_id = values.get("external_id", "")
        if not isinstance(description, str) or not isinstance(external_id, str):
            problems.add(entry, "description and external_id must be text")
        zone = zone_named((space.time_zone if space else None) or "UTC")
        start = problems.check(entry, partial(_instant, values, "start", zone))
        end = problems.check(entry, partial(_instant, values, "end", zone))
        if start is not None and end is not None and end <= start:
            problems.add(entry, "end must be after start")
        if len(problems.lines) > before or space is None or start is None or end is None:
            continue
        taken.add(number)
        candidate = FixtureReservation(
            number,
            space,
            str(values["applicant_id"]),
            description,
            start,
            end,
            external_id,
            ReservationStatus(status),
        )
        clash = _overlapping(candidate, fixture.reservations)
        if clash is not None:
            problems.add(
                entry,
                f"overlaps reservation {clash.ultimo_id} in {space.id} (with their "
                "preparation and cleanup time)",
            )
            continue
        fixture.reservations.append(candidate)


def _instant(values: Mapping[str, Any], name: str, zone: Any) -> datetime:
    value = values.get(name)
    if isinstance(value, datetime):  # TOML date-times: with offset, or wall-clock
        value = value.isoformat()
    elif isinstance(value, date | time):
        value = str(value)
    if not isinstance(value, str):
        return parse_instant(name, repr(value), zone)  # refused, naming the formats
    return parse_instant(name, value, zone)


def _blocked(reservation: FixtureReservation) -> Interval:
    space = reservation.space
    return blocked_interval(
        reservation.start, reservation.end, space.preparation_minutes, space.cleanup_minutes
    )


def _overlapping(
    candidate: FixtureReservation, others: list[FixtureReservation]
) -> FixtureReservation | None:
    if candidate.cancelled:
        return None
    mine = _blocked(candidate)
    for other in others:
        if other.space.id != candidate.space.id or other.cancelled:
            continue
        theirs = _blocked(other)
        if mine.start < theirs.end and theirs.start < mine.end:
            return other
    return None


def _check_numbering(value: Any, fixture: Fixture, problems: _Problems) -> None:
    if value is None:
        return
    highest = max((r.ultimo_id for r in fixture.reservations), default=0)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ULTIMO_ID:
        problems.add("next_ultimo_id", f"must be a whole number from 1 to {MAX_ULTIMO_ID}")
    elif value <= highest:
        problems.add("next_ultimo_id", f"must be above the highest ultimo_id, {highest}")
    else:
        fixture.next_ultimo_id = value


def load_fixture(database: Database, fixture: Fixture) -> None:
    """Store ``fixture`` in an empty database, all of it in one transaction."""
    with database.write() as conn:
        if not is_empty(conn) or conn.execute(select(func.count()).select_from(api_keys)).scalar():
            problem = (
                f"{fixture.path}: file: a fixture loads only into an empty database; "
                "leave out --database-url for a fresh one"
            )
            raise _rejected(fixture.path, [problem])
        for space in fixture.spaces:
            masterdata.add_space(conn, space)
        for person in fixture.people:
            masterdata.add_person(conn, person)
        for key in fixture.keys:
            store_key(
                conn,
                name=key.name,
                secret=key.secret,
                now=CREATED_AT,
                workflows=key.workflows,
                ip_allow=key.ip_allow,
                daily_quota=key.daily_quota,
            )
        for reservation in fixture.reservations:
            store.insert_reservation(
                conn,
                space=reservation.space,
                applicant_id=reservation.applicant_id,
                description=reservation.description,
                start=reservation.start,
                end=reservation.end,
                blocked=_blocked(reservation),
                api_key_id=None,
                external_id=reservation.external_id,
                request_fingerprint=None,
                now=CREATED_AT,
                ultimo_id=reservation.ultimo_id,
                status=reservation.status,
            )
        highest = max((r.ultimo_id for r in fixture.reservations), default=0)
        last = max(highest, (fixture.next_ultimo_id or 1) - 1)
        if last:
            store.continue_numbering_after(conn, last)
        if fixture.clock is not None and fixture.clock != "system":
            clock.pin(conn, parse_instant("clock", fixture.clock, zone_named("UTC")))
