"""Finding a room: which spaces are free, their schedules, and suggested slots.

Times without an offset are wall-clock time in each space's own zone, so one request
can mean different instants for spaces in different zones: the spaces are taken zone
by zone. Everything here only reads; an answer and a create right after it agree unless
someone else booked in between, and then the create (which the database guards) decides.

Each use case is written once, as a coroutine over ``HotPath`` (as the Ultimo workflows
in ``services/reservations.py``): ``/api/booking`` runs it on the event loop
and the web view's "Find a room" page (``HotPaths.read``: asyncpg on PostgreSQL), the
CLI in its thread (``ReservationService.read_here``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from roomline.domain.availability import (
    MAX_SCHEDULE_SPACES,
    SlotSearch,
    SpaceFilter,
    availability_view,
    can_match,
    check_schedule,
    check_slot_search,
    check_window,
    feature_names,
    fit_order,
    free_starts,
)
from roomline.domain.errors import (
    InvalidParameter,
    RequiredParameterMissing,
    TooManySpaces,
    UnknownSpace,
)
from roomline.domain.masterdata import MAX_BUILDING_LENGTH, MAX_CAPACITY, MAX_FLOOR_LENGTH
from roomline.domain.reservations import Interval, Space, blocked_interval
from roomline.domain.times import format_iso, parse_instant, zone_named
from roomline.services.reservations import Policy
from roomline.storage import availability as store
from roomline.storage.availability import ScheduledItem
from roomline.storage.hotpath import HotPath

MAX_LIMIT = 10_000
DEFAULT_SUGGESTIONS = 10
MAX_SUGGESTIONS = 100


@dataclass(frozen=True, slots=True)
class Schedule:
    space: Space
    zone: ZoneInfo
    availability_view: str
    items: list[ScheduledItem]


@dataclass(frozen=True, slots=True)
class Suggestion:
    space: Space
    zone: ZoneInfo
    start: datetime
    end: datetime


def free_space_values(space: Space, time_zone: str) -> dict[str, Any]:
    """Return a free space as JSON-ready values (the API's and the CLI's shape)."""
    return {
        "space_id": space.id,
        "description": space.description,
        "building": space.building,
        "floor": space.floor,
        "capacity": space.capacity,
        "features": list(space.features),
        "time_zone": time_zone,
    }


def slot_values(slot: Suggestion) -> dict[str, Any]:
    """Return a suggested slot as JSON-ready values, times in the space's zone."""
    return {
        "space_id": slot.space.id,
        "start": format_iso(slot.start, slot.zone),
        "end": format_iso(slot.end, slot.zone),
    }


def schedule_values(schedule: Schedule) -> dict[str, Any]:
    """Return a schedule as JSON-ready values, times in the space's zone."""
    zone = schedule.zone
    return {
        "space_id": schedule.space.id,
        "availability_view": schedule.availability_view,
        "items": [
            {
                "ultimo_id": f"{item.ultimo_id:011d}",
                "start": format_iso(item.start, zone),
                "end": format_iso(item.end, zone),
                "blocked_start": format_iso(item.blocked_start, zone),
                "blocked_end": format_iso(item.blocked_end, zone),
                "description": item.description,
                "applicant_name": item.applicant_name,
            }
            for item in schedule.items
        ],
    }


def space_filter(
    capacity: int | None = None,
    features: str | None = None,
    building: str | None = None,
    floor: str | None = None,
) -> SpaceFilter:
    """Read the filters every search shares (as query parameters give them)."""
    if capacity is not None and not 0 <= capacity <= MAX_CAPACITY:
        raise InvalidParameter(f"capacity must be between 0 and {MAX_CAPACITY}, not {capacity}.")
    return SpaceFilter(
        capacity=capacity,
        building=_optional(building, "building", MAX_BUILDING_LENGTH),
        floor=_optional(floor, "floor", MAX_FLOOR_LENGTH),
        features=feature_names(features),
    )


async def free_spaces(
    path: HotPath,
    policy: Policy,
    wanted: SpaceFilter,
    start: str,
    end: str,
    limit: int | None = None,
) -> list[tuple[Space, ZoneInfo]]:
    """Return the bookable spaces ``wanted`` describes that are free over [start, end),
    smallest fitting capacity first, then by id; each with its zone."""
    _check_limit(limit, MAX_LIMIT)
    found: list[tuple[Space, ZoneInfo]] = []
    default_zone = policy.default_zone
    groups = await store.groups_of_matching(path, wanted, default_zone)
    if not groups or not can_match(wanted.features):  # still check the request
        _instants_in(policy, start, end, default_zone)
        groups = []
    for group in groups:
        first, last = _instants_in(policy, start, end, group.zone)
        blocked = blocked_interval(first, last, group.preparation_minutes, group.cleanup_minutes)
        zone = zone_named(group.zone)
        free = await store.free_spaces(path, wanted, group, blocked, default_zone)
        found.extend((space, zone) for space in free)
    found.sort(key=lambda pair: fit_order(pair[0]))
    return found if limit is None else found[:limit]


async def schedules(
    path: HotPath,
    policy: Policy,
    start: str,
    end: str,
    interval_minutes: int,
    space_ids: list[str] | None = None,
    wanted: SpaceFilter = SpaceFilter(),
) -> list[Schedule]:
    """Return the schedule of each space named (in that order) or, without names, of the
    bookable spaces of ``wanted``'s building and floor (by id): an availability view of
    ``interval_minutes`` per character and the reservations behind it."""
    if space_ids is None and wanted.building is None and wanted.floor is None:
        raise RequiredParameterMissing("Give spaces (ids joined by commas), or building or floor.")
    if space_ids is not None:
        chosen = await _named_spaces(path, space_ids)
    else:
        matching = await store.matching_spaces(path, wanted)
        _check_count(len(matching))
        chosen = sorted(matching, key=lambda space: space.id)
    by_zone: dict[str, list[Space]] = {}
    for space in chosen:
        by_zone.setdefault(zone_named(space.time_zone or policy.default_zone).key, []).append(space)
    views: dict[str, Schedule] = {}
    for zone_name, group in by_zone.items():
        window = Interval(*_instants_in(policy, start, end, zone_name))
        check_schedule(window, interval_minutes)
        interval = timedelta(minutes=interval_minutes)
        items = await store.scheduled(path, [space.id for space in group], window.start, window.end)
        for space in group:
            blocks = (Interval(i.blocked_start, i.blocked_end) for i in items[space.id])
            view = availability_view(window, interval, blocks)
            views[space.id] = Schedule(space, zone_named(zone_name), view, items[space.id])
    return [views[space.id] for space in chosen]


async def suggestions(
    path: HotPath,
    policy: Policy,
    wanted: SpaceFilter,
    duration_minutes: int,
    earliest: str,
    latest: str,
    step_minutes: int = 15,
    limit: int = DEFAULT_SUGGESTIONS,
) -> list[Suggestion]:
    """Return the first free slots of ``duration_minutes`` between earliest and latest,
    starting on a grid of ``step_minutes`` from earliest and not before now: earliest
    first, then the smallest fitting capacity, then the space id."""
    _check_limit(limit, MAX_SUGGESTIONS)
    now = await path.now()
    candidates = []
    spaces = await store.matching_spaces(path, wanted) if can_match(wanted.features) else []
    if not spaces:  # nothing to search, but the request is still checked
        first, last = _instants_in(
            policy, earliest, latest, policy.default_zone, "earliest", "latest"
        )
        check_slot_search(duration_minutes, step_minutes, first, last)
    for space in spaces:
        zone = zone_named(space.time_zone or policy.default_zone)
        first, last = _instants_in(policy, earliest, latest, zone.key, "earliest", "latest")
        check_slot_search(duration_minutes, step_minutes, first, last)
        search = SlotSearch(
            earliest=first,
            latest=last,
            not_before=now,
            duration=timedelta(minutes=duration_minutes),
            step=timedelta(minutes=step_minutes),
        )
        around = await store.blocks(
            path,
            space.id,
            first - timedelta(minutes=space.preparation_minutes),
            last + timedelta(minutes=space.cleanup_minutes),
        )
        candidates.append((space, zone, search, around))
    streams = [_slots(space, zone, search, around) for space, zone, search, around in candidates]
    merged: Iterator[tuple[datetime, tuple[bool, int, str], Suggestion]] = heapq.merge(*streams)
    return [suggestion for _, _, suggestion in itertools.islice(merged, limit)]


def _slots(
    space: Space, zone: ZoneInfo, search: SlotSearch, around: list[Interval]
) -> Iterator[tuple[datetime, tuple[bool, int, str], Suggestion]]:
    order = fit_order(space)
    for start in free_starts(search, space, around):
        yield start, order, Suggestion(space, zone, start, start + search.duration)


def _instants_in(
    policy: Policy,
    start: str,
    end: str,
    zone_name: str,
    start_field: str = "start",
    end_field: str = "end",
) -> tuple[datetime, datetime]:
    zone = zone_named(zone_name)
    first = parse_instant(start_field, start.strip(), zone)
    last = parse_instant(end_field, end.strip(), zone)
    check_window(first, last, policy.max_window, start_field, end_field)
    return first, last


async def _named_spaces(path: HotPath, space_ids: list[str]) -> list[Space]:
    wanted = list(dict.fromkeys(space_id.strip() for space_id in space_ids if space_id.strip()))
    if not wanted:
        raise InvalidParameter("spaces names no space; list ids joined by commas.")
    _check_count(len(wanted))
    known = await store.spaces_named(path, wanted)
    unknown = [space_id for space_id in wanted if space_id not in known]
    if unknown:
        raise UnknownSpace(
            f"There is no space {', '.join(repr(space_id) for space_id in unknown[:10])}"
            + (f" and {len(unknown) - 10} more." if len(unknown) > 10 else "."),
            details=[{"space_id": space_id} for space_id in unknown],
        )
    return [known[space_id] for space_id in wanted]


def _check_count(count: int) -> None:
    if count > MAX_SCHEDULE_SPACES:
        raise TooManySpaces(
            f"A schedule covers at most {MAX_SCHEDULE_SPACES} spaces, not {count}; "
            "ask for fewer, or narrow building and floor."
        )


def _check_limit(limit: int | None, maximum: int) -> None:
    if limit is not None and not 1 <= limit <= maximum:
        raise InvalidParameter(f"limit must be between 1 and {maximum}, not {limit}.")


def _optional(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value.strip()) > max_length:
        raise InvalidParameter(f"{field} is longer than {max_length} characters.")
    return value.strip()
