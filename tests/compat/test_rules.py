"""Past, running, cancelled, idempotency and DST rules through the real server.

The demo server's clock stands at 2030-01-07 09:00 UTC (10:00 Amsterdam, CET).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.compat.test_workflows import (
    CANCEL,
    CREATE,
    GET,
    UPDATE,
    collection,
    create_body,
    created_id,
    error,
    stored_count,
)
from tests.conftest import World
from tests.support import Server

IN_PAST = error(
    "1166", "Room reservation cannot be modified.\r\nCause: Room reservation is in the past."
)


def test_ended_reservation_cannot_be_updated_or_cancelled(server: Server, world: World) -> None:
    space = world.space()
    ended = world.reservation(
        space, datetime(2030, 1, 7, 7, tzinfo=UTC), datetime(2030, 1, 7, 8, tzinfo=UTC)
    )
    ultimo_id = f"{ended:011d}"
    update = server.call(UPDATE, {"UltimoId": ultimo_id, "EndTime": "2030-01-07 12:00:00"})
    assert (update.status_code, update.json()) == (400, IN_PAST)
    cancel = server.call(CANCEL, {"UltimoId": ultimo_id})
    assert (cancel.status_code, cancel.json()) == (400, IN_PAST)
    [item] = collection(server, space.id, "2030-01-07 00:00:00", "2030-01-08 00:00:00")
    assert (item["EndTime"], item["Status"]) == ("2030-01-07T09:00:00.000000+01:00", "Processed")


def test_book_now_within_grace_and_running_rules(server: Server, world: World) -> None:
    space = world.space()
    # Now is 10:00 Amsterdam; starting 3 minutes ago is within the 5-minute grace.
    ultimo_id = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-07 09:57:00", "2030-01-07 10:30:00"))
    )
    extended = server.call(UPDATE, {"UltimoId": ultimo_id, "EndTime": "2030-01-07 11:00:00"})
    assert (extended.status_code, extended.json()) == (200, {"properties": {}})
    same_start = server.call(
        UPDATE,
        {
            "UltimoId": ultimo_id,
            "StartTime": "2030-01-07 09:57:00",
            "EndTime": "2030-01-07 10:45:00",
        },
    )
    assert same_start.status_code == 200
    moved = server.call(UPDATE, {"UltimoId": ultimo_id, "StartTime": "2030-01-07 10:15:00"})
    assert (moved.status_code, moved.json()) == (
        400,
        error(
            "ReservationStarted",
            "The reservation has started; its StartTime cannot change, only its EndTime.",
        ),
    )
    too_short = server.call(UPDATE, {"UltimoId": ultimo_id, "EndTime": "2030-01-07 09:59:00"})
    assert too_short.json()["code"] == "EndTimeInPast"
    [item] = collection(server, space.id, "2030-01-07 00:00:00", "2030-01-08 00:00:00")
    assert (item["StartTime"], item["EndTime"]) == (
        "2030-01-07T09:57:00.000000+01:00",
        "2030-01-07T10:45:00.000000+01:00",
    )
    cancelled = server.call(CANCEL, {"UltimoId": ultimo_id})
    assert cancelled.status_code == 200


def test_new_reservation_in_the_past_is_refused(server: Server, world: World) -> None:
    space = world.space()
    before = stored_count(world)
    early = server.call(CREATE, create_body(space.id, "2030-01-07 09:54:00", "2030-01-07 10:30:00"))
    assert (early.status_code, early.json()) == (
        400,
        error(
            "StartTimeInPast",
            "StartTime lies in the past; a reservation may start at most 5 minutes before now.",
        ),
    )
    ended = server.call(CREATE, create_body(space.id, "2030-01-07 08:00:00", "2030-01-07 10:00:00"))
    assert ended.json()["code"] == "EndTimeInPast"
    assert stored_count(world) == before


def test_cancelled_reservation_cannot_be_moved(server: Server, world: World) -> None:
    space = world.space()
    ultimo_id = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-12 10:00:00", "2030-01-12 11:00:00"))
    )
    assert server.call(CANCEL, {"UltimoId": ultimo_id}).status_code == 200
    moved = server.call(
        UPDATE,
        {
            "UltimoId": ultimo_id,
            "StartTime": "2030-01-12 12:00:00",
            "EndTime": "2030-01-12 13:00:00",
        },
    )
    assert (moved.status_code, moved.json()) == (
        400,
        error(
            "ReservationCancelled", f"Reservation {ultimo_id} is cancelled and cannot be changed."
        ),
    )


def test_update_conflicts_with_others_but_not_itself(server: Server, world: World) -> None:
    space = world.space(cleanup=30, description="Studio")
    first = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-13 10:00:00", "2030-01-13 11:00:00"))
    )
    created_id(
        server.call(CREATE, create_body(space.id, "2030-01-13 12:00:00", "2030-01-13 13:00:00"))
    )
    extend_into_own = server.call(UPDATE, {"UltimoId": first, "EndTime": "2030-01-13 11:30:00"})
    assert extend_into_own.status_code == 200
    into_other = server.call(UPDATE, {"UltimoId": first, "EndTime": "2030-01-13 11:31:00"})
    assert (into_other.status_code, into_other.json()) == (
        400,
        error(
            "1015",
            "Room reservation cannot be requested or processed.\r\nCause: Studio is not available.",
        ),
    )
    [item, _] = collection(server, space.id, "2030-01-13 00:00:00", "2030-01-14 00:00:00")
    assert item["EndTime"] == "2030-01-13T11:30:00.000000+01:00"


def test_update_snapshots_the_space_times_when_moved(server: Server, world: World) -> None:
    from roomline.domain.reservations import Space
    from roomline.storage import masterdata

    space = world.space(prep=0, cleanup=0)
    ultimo_id = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-14 10:00:00", "2030-01-14 11:00:00"))
    )
    changed = Space(space.id, space.description, space.time_zone, 20, 10, space.capacity, True)
    with world.database.write() as conn:
        masterdata.update_space(conn, changed)
    [unchanged] = collection(server, space.id, "2030-01-14 00:00:00", "2030-01-15 00:00:00")
    assert unchanged["StartTimeIncludingPreparationTime"] == "2030-01-14T10:00:00.000000+01:00"
    assert (
        server.call(UPDATE, {"UltimoId": ultimo_id, "EndTime": "2030-01-14 11:30:00"}).status_code
        == 200
    )
    [moved] = collection(server, space.id, "2030-01-14 00:00:00", "2030-01-15 00:00:00")
    assert (moved["StartTimeIncludingPreparationTime"], moved["EndTimeIncludingCleanupTime"]) == (
        "2030-01-14T09:40:00.000000+01:00",
        "2030-01-14T11:40:00.000000+01:00",
    )


def test_external_id_makes_create_idempotent_per_key(server: Server, world: World) -> None:
    space = world.space()
    body = create_body(space.id, "2030-01-15 10:00:00", "2030-01-15 11:00:00", ExternalId="EXT-1")
    first = created_id(server.call(CREATE, body))
    before = stored_count(world)
    assert created_id(server.call(CREATE, body)) == first
    assert stored_count(world) == before
    different = server.call(CREATE, {**body, "Description": "Other"})
    assert (different.status_code, different.json()) == (
        400,
        error(
            "DuplicateExternalId",
            f"ExternalId 'EXT-1' was already used for reservation {first} with different content; "
            "repeat the identical request or use a new ExternalId.",
        ),
    )
    # Another key may use the same ExternalId; its booking then conflicts with the first.
    other_key = world.key()
    other = server.call(CREATE, body, key=other_key)
    assert other.json()["code"] == "1015"
    assert stored_count(world) == before


def test_empty_external_id_is_never_idempotent(server: Server, world: World) -> None:
    space = world.space()
    body = create_body(space.id, "2030-01-16 10:00:00", "2030-01-16 11:00:00")
    created_id(server.call(CREATE, body))
    assert server.call(CREATE, body).json()["code"] == "1015"


def test_dst_gap_is_refused_and_overlap_means_earlier(server: Server, world: World) -> None:
    space = world.space()  # Europe/Amsterdam: 2030-03-31 02:00 -> 03:00; 2030-10-27 03:00 -> 02:00
    gap = server.call(CREATE, create_body(space.id, "2030-03-31 02:30:00", "2030-03-31 04:00:00"))
    assert (gap.status_code, gap.json()) == (
        400,
        error(
            "InvalidDateTime",
            (
                "StartTime '2030-03-31 02:30:00' does not exist in time zone Europe/Amsterdam: the clocks "
                "skip that hour when daylight saving time starts. Send a time outside the gap or give an "
                "explicit UTC offset."
            ),
        ),
    )
    across_gap = created_id(
        server.call(CREATE, create_body(space.id, "2030-03-31 01:30:00", "2030-03-31 03:30:00"))
    )
    overlap = created_id(
        server.call(CREATE, create_body(space.id, "2030-10-27 02:30:00", "2030-10-27 03:30:00"))
    )
    spring = collection(server, space.id, "2030-03-31 00:00:00", "2030-04-01 00:00:00")
    assert [(i["UltimoId"], i["StartTime"], i["EndTime"]) for i in spring] == [
        (across_gap, "2030-03-31T01:30:00.000000+01:00", "2030-03-31T03:30:00.000000+02:00")
    ]
    autumn = collection(server, space.id, "2030-10-27 00:00:00", "2030-10-28 00:00:00")
    # 02:30 happens twice; the earlier (CEST, +02:00) is meant, so the booking lasts two hours.
    assert [(i["UltimoId"], i["StartTime"], i["EndTime"]) for i in autumn] == [
        (overlap, "2030-10-27T02:30:00.000000+02:00", "2030-10-27T03:30:00.000000+01:00")
    ]
    # The second 02:30 (+01:00) lies inside that booking.
    second_half = server.call(
        CREATE, create_body(space.id, "2030-10-27T02:30:00+01:00", "2030-10-27T02:45:00+01:00")
    )
    assert second_half.json()["code"] == "1015"


def test_get_in_another_zone_writes_that_zone(server: Server, world: World) -> None:
    space = world.space(tz="America/New_York")
    created_id(
        server.call(CREATE, create_body(space.id, "2030-07-01T14:00:00Z", "2030-07-01T15:00:00Z"))
    )
    [item] = collection(server, space.id, "2030-07-01 00:00:00", "2030-07-02 00:00:00")
    assert (item["StartTime"], item["EndTime"]) == (
        "2030-07-01T10:00:00.000000-04:00",
        "2030-07-01T11:00:00.000000-04:00",
    )


def test_space_without_zone_uses_the_default(server: Server, world: World) -> None:
    space = world.space(tz=None)
    created_id(
        server.call(CREATE, create_body(space.id, "2030-02-01 10:00:00", "2030-02-01 11:00:00"))
    )
    [item] = collection(server, space.id, "2030-02-01 00:00:00", "2030-02-02 00:00:00")
    assert item["StartTime"] == "2030-02-01T10:00:00.000000+00:00"


def test_window_limits(server: Server, world: World) -> None:
    space = world.space()
    too_long = server.call(
        GET, {"SpaceId": space.id, "From": "2030-01-01 00:00:00", "Till": "2031-01-02 00:00:01"}
    )
    assert (too_long.status_code, too_long.json()) == (
        400,
        error(
            "WindowTooLarge",
            "The window from From to Till is longer than the maximum of 366 days; ask for it in smaller windows.",
        ),
    )
    longest = server.call(
        GET, {"SpaceId": space.id, "From": "2030-01-01 00:00:00", "Till": "2031-01-02 00:00:00"}
    )
    assert longest.status_code == 200
    reversed_window = server.call(
        GET, {"SpaceId": space.id, "From": "2030-01-02 00:00:00", "Till": "2030-01-01 00:00:00"}
    )
    assert (reversed_window.status_code, reversed_window.json()) == (
        400,
        error("InvalidTimeSpan", "Till must be after From."),
    )


def test_answers_at_the_edges_of_the_supported_years_are_accepted_back(
    server: Server, world: World
) -> None:
    # Near the edges, a space far from UTC writes 9999 or 1899 on its wall clock; every time
    # roomline answers must be good input again (issue 13, item 14).
    late = world.space(tz="Pacific/Kiritimati")  # UTC+14
    ultimo_id = created_id(
        server.call(CREATE, create_body(late.id, "9998-12-31T21:00:00Z", "9998-12-31T23:00:00Z"))
    )
    [item] = collection(server, late.id, "9998-12-31 00:00:00", "9999-01-01T13:59:59+14:00")
    assert (item["StartTime"], item["EndTime"]) == (
        "9999-01-01T11:00:00.000000+14:00",
        "9999-01-01T13:00:00.000000+14:00",
    )
    assert collection(server, late.id, item["StartTime"], item["EndTime"]) == [item]
    update = {"UltimoId": ultimo_id, "StartTime": item["StartTime"], "EndTime": item["EndTime"]}
    assert server.call(UPDATE, update).status_code == 200
    early = world.space(tz="Pacific/Pago_Pago")  # local mean time, UTC-11:22:48
    world.reservation(
        early, datetime(1900, 1, 1, 0, 0, tzinfo=UTC), datetime(1900, 1, 1, 1, 0, tzinfo=UTC)
    )
    [item] = collection(server, early.id, "1900-01-01T00:00:00Z", "1900-01-02T00:00:00Z")
    assert item["StartTime"] == "1899-12-31T12:37:00.000000-11:23"
    assert collection(server, early.id, item["StartTime"], item["EndTime"]) == [item]
