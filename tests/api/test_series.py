"""``/api/booking/series`` end to end on a real server, on both databases: create under
both conflict policies, DST, refusals, idempotency, edits that leave exceptions alone,
cancel, and what Ultimo clients and the audit trail see of it all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from roomline.client import (
    AsyncUltimoClient,
    SkippedOccurrence,
    SpaceNotAvailable,
    UltimoClient,
    UltimoError,
)
from roomline.domain.reservations import Space
from roomline.storage.tables import reservations
from tests.conftest import World
from tests.support import DEMO_KEY, Server

TAKEN = "Room reservation cannot be requested or processed.\r\nCause: {} is not available."
HEADERS = {"ApiKey": DEMO_KEY}
r = reservations.c
WINTER = timezone(timedelta(hours=1))
SUMMER = timezone(timedelta(hours=2))


def create(server: Server, **body: Any) -> httpx.Response:
    return server.client.post("/api/booking/series", json=body, headers=HEADERS)


def series_body(space: Space, applicant: str, **overrides: Any) -> dict[str, Any]:
    """Weekly on Mondays 09:00-10:00 Amsterdam time from 2030-03-18, four times."""
    body = {
        "space_id": space.id,
        "applicant_id": applicant,
        "description": "Team meeting",
        "start": "2030-03-18T09:00:00",
        "end": "2030-03-18T10:00:00",
        "rrule": "FREQ=WEEKLY;COUNT=4",
    }
    return {**body, **overrides}


def stored(world: World, space: Space) -> list[tuple[str, str, str, int | None]]:
    """The space's reservations as (start UTC, end UTC, status, series id)."""
    with world.database.read() as conn:
        rows = conn.execute(
            select(r.start_time, r.end_time, r.status, r.series_id)
            .where(r.space_id == space.id)
            .order_by(r.start_time, r.ultimo_id)
        )
        return [(a.isoformat(), b.isoformat(), status, series) for a, b, status, series in rows]


def series_count(world: World) -> int:
    with world.database.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM series")).scalar_one())


def test_a_weekly_series_keeps_its_wall_clock_time_across_dst(server: Server, world: World) -> None:
    space = world.space()
    person = world.person()
    response = create(server, **series_body(space, person.id))
    assert response.status_code == 201, response.text
    body = response.json()
    ids = [o["ultimo_id"] for o in body["occurrences"]]
    assert body == {
        "series_id": body["series_id"],
        "occurrences": [
            {"ultimo_id": ids[0], "start": "2030-03-18T09:00:00+01:00", "end": "2030-03-18T10:00:00+01:00"},
            {"ultimo_id": ids[1], "start": "2030-03-25T09:00:00+01:00", "end": "2030-03-25T10:00:00+01:00"},
            {"ultimo_id": ids[2], "start": "2030-04-01T09:00:00+02:00", "end": "2030-04-01T10:00:00+02:00"},
            {"ultimo_id": ids[3], "start": "2030-04-08T09:00:00+02:00", "end": "2030-04-08T10:00:00+02:00"},
        ],
        "skipped": [],
    }  # fmt: skip
    assert len(set(ids)) == 4
    # Ordinary reservations: the Ultimo Get lists them with their own UltimoIds.
    listed = server.call(
        "REST_GetReservationsForSpace",
        {"SpaceId": space.id, "From": "2030-03-01 00:00:00", "Till": "2030-05-01 00:00:00"},
    ).json()["properties"]["Output"]["collection"]
    assert [(item["UltimoId"], item["StartTime"]) for item in listed] == [
        (ids[0], "2030-03-18T09:00:00.000000+01:00"),
        (ids[1], "2030-03-25T09:00:00.000000+01:00"),
        (ids[2], "2030-04-01T09:00:00.000000+02:00"),
        (ids[3], "2030-04-08T09:00:00.000000+02:00"),
    ]
    # The audit trail records each occurrence, as done by the key through "series".
    with world.database.read() as conn:
        audited = conn.execute(
            text(
                "SELECT ultimo_id, action, workflow FROM audit_log WHERE ultimo_id IN "
                f"({','.join(str(int(i)) for i in ids)}) ORDER BY ultimo_id"
            )
        ).all()
    assert [tuple(row) for row in audited] == [(int(i), "create", "series") for i in ids]


def test_fail_stores_nothing_and_lists_every_conflict(server: Server, world: World) -> None:
    space = world.space(description="Board room")
    person = world.person()
    world.reservation(
        space, datetime(2030, 3, 25, 8, 30, tzinfo=UTC), datetime(2030, 3, 25, 9, 30, tzinfo=UTC)
    )
    world.reservation(
        space, datetime(2030, 4, 8, 7, 0, tzinfo=UTC), datetime(2030, 4, 8, 7, 30, tzinfo=UTC)
    )
    before = stored(world, space)
    series_before = series_count(world)
    response = create(server, **series_body(space, person.id))
    assert response.status_code == 400
    assert response.json() == {
        "message": TAKEN.format("Board room"),
        "code": "1015",
        "details": [
            {
                "start": "2030-03-25T09:00:00+01:00",
                "end": "2030-03-25T10:00:00+01:00",
                "code": "1015",
                "message": TAKEN.format("Board room"),
            },
            {
                "start": "2030-04-08T09:00:00+02:00",
                "end": "2030-04-08T10:00:00+02:00",
                "code": "1015",
                "message": TAKEN.format("Board room"),
            },
        ],
    }
    assert stored(world, space) == before
    assert series_count(world) == series_before


def test_skip_books_exactly_the_free_occurrences(server: Server, world: World) -> None:
    space = world.space(prep=15)
    person = world.person()
    # 08:50-08:55 Amsterdam time: clear of 09:00 itself, but the series' 15 minutes of
    # preparation reach into it.
    world.reservation(
        space, datetime(2030, 3, 25, 7, 50, tzinfo=UTC), datetime(2030, 3, 25, 7, 55, tzinfo=UTC)
    )
    response = create(server, **series_body(space, person.id, on_conflict="skip"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert [o["start"] for o in body["occurrences"]] == [
        "2030-03-18T09:00:00+01:00",
        "2030-04-01T09:00:00+02:00",
        "2030-04-08T09:00:00+02:00",
    ]
    assert body["skipped"] == [
        {
            "start": "2030-03-25T09:00:00+01:00",
            "end": "2030-03-25T10:00:00+01:00",
            "code": "1015",
            "message": TAKEN.format(space.description),
        }
    ]
    series_id = body["series_id"]
    assert stored(world, space) == [
        ("2030-03-18T08:00:00+00:00", "2030-03-18T09:00:00+00:00", "Processed", series_id),
        ("2030-03-25T07:50:00+00:00", "2030-03-25T07:55:00+00:00", "Processed", None),
        ("2030-04-01T07:00:00+00:00", "2030-04-01T08:00:00+00:00", "Processed", series_id),
        ("2030-04-08T07:00:00+00:00", "2030-04-08T08:00:00+00:00", "Processed", series_id),
    ]


def test_an_occurrence_in_the_spring_forward_gap_is_skipped_and_reported(
    server: Server, world: World
) -> None:
    space = world.space()
    person = world.person()
    body = series_body(
        space,
        person.id,
        start="2030-03-30T02:30:00",
        end="2030-03-30T03:15:00",
        rrule="FREQ=DAILY;COUNT=3",
    )
    response = create(server, **body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert [(o["start"], o["end"]) for o in answer["occurrences"]] == [
        ("2030-03-30T02:30:00+01:00", "2030-03-30T03:15:00+01:00"),
        ("2030-04-01T02:30:00+02:00", "2030-04-01T03:15:00+02:00"),
    ]
    assert answer["skipped"] == [
        {
            "start": "2030-03-31T02:30:00",
            "end": "2030-03-31T03:15:00",
            "code": "InvalidDateTime",
            "message": "2030-03-31T02:30:00 to 2030-03-31T03:15:00 does not exist in time "
            "zone Europe/Amsterdam: the clocks skip that hour when daylight saving time "
            "starts.",
        }
    ]


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        pytest.param(
            {"rrule": "FREQ=WEEKLY"},
            "InvalidRecurrence",
            "rrule 'FREQ=WEEKLY' must end: give it a COUNT or an UNTIL (one of them, not both).",
            id="never ends",
        ),
        pytest.param(
            {"rrule": "FREQ=YEARLY;COUNT=2"},
            "InvalidRecurrence",
            "rrule 'FREQ=YEARLY;COUNT=2' must have FREQ=DAILY, FREQ=WEEKLY or FREQ=MONTHLY.",
            id="yearly",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;COUNT=501"},
            "InvalidRecurrence",
            "rrule 'FREQ=DAILY;COUNT=501' yields more than 500 occurrences, the most a series "
            "may have; use a smaller COUNT or an earlier UNTIL, or book two series.",
            id="too many",
        ),
        pytest.param(
            {"rrule": "FREQ=WEEKLY;UNTIL=20300317"},
            "InvalidRecurrence",
            "rrule 'FREQ=WEEKLY;UNTIL=20300317' yields no occurrences that exist.",
            id="none",
        ),
        pytest.param(
            {"rrule": "FREQ=WEEKLY;BYDAY=XX;COUNT=2"},
            "InvalidRecurrence",
            "rrule 'FREQ=WEEKLY;BYDAY=XX;COUNT=2' is not a valid RRULE: invalid 'BYDAY': XX.",
            id="malformed",
        ),
        pytest.param(
            {"exdates": ["2030-03-19T09:00:00"]},
            "InvalidRecurrence",
            "exdates 2030-03-19T08:00:00+00:00 are not the start of any occurrence of rrule "
            "'FREQ=WEEKLY;COUNT=4'.",
            id="exdate of no occurrence",
        ),
        pytest.param(
            {"start": "2030-03-31T02:30:00"},
            "InvalidDateTime",
            "start '2030-03-31T02:30:00' does not exist in time zone Europe/Amsterdam: the "
            "clocks skip that hour when daylight saving time starts. Send a time outside the "
            "gap or give an explicit UTC offset.",
            id="first start in the gap",
        ),
        pytest.param(
            {"end": "2030-03-18T08:00:00"},
            "InvalidTimeSpan",
            "end must be after start.",
            id="end before start",
        ),
        pytest.param(
            {"on_conflict": "maybe"},
            "InvalidParameter",
            "body.on_conflict: Input should be 'fail' or 'skip'",
            id="unknown policy",
        ),
    ],
)
def test_bad_series_are_refused_and_store_nothing(
    server: Server, world: World, overrides: dict[str, Any], code: str, message: str
) -> None:
    space = world.space()
    person = world.person()
    series_before = series_count(world)
    response = create(server, **series_body(space, person.id, **overrides))
    assert response.status_code == 400
    assert response.json() == {"message": message, "code": code}
    assert stored(world, space) == []
    assert series_count(world) == series_before


def test_exdates_leave_out_occurrences(server: Server, world: World) -> None:
    space = world.space()
    person = world.person()
    body = series_body(space, person.id, exdates=["2030-03-25T09:00:00", "2030-04-01T07:00:00Z"])
    response = create(server, **body)
    assert [o["start"] for o in response.json()["occurrences"]] == [
        "2030-03-18T09:00:00+01:00",
        "2030-04-08T09:00:00+02:00",
    ]
    shown = server.client.get(
        f"/api/booking/series/{response.json()['series_id']}", headers=HEADERS
    )
    assert shown.json()["exdates"] == ["2030-03-25T09:00:00+01:00", "2030-04-01T09:00:00+02:00"]


def test_external_id_makes_create_idempotent(server: Server, world: World) -> None:
    space = world.space()
    person = world.person()
    body = series_body(space, person.id, external_id="weekly-1")
    first = create(server, **body)
    again = create(server, **body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(stored(world, space)) == 4
    different = create(server, **{**body, "description": "Other"})
    assert different.status_code == 400
    assert different.json() == {
        "message": f"external_id 'weekly-1' was already used for series "
        f"{first.json()['series_id']} with different content; repeat the identical request "
        "or use a new external_id.",
        "code": "DuplicateExternalId",
    }


def test_a_series_edit_leaves_exceptions_alone(server: Server, world: World) -> None:
    space = world.space()
    person = world.person()
    created = create(server, **series_body(space, person.id)).json()
    series_id = created["series_id"]
    ids = [o["ultimo_id"] for o in created["occurrences"]]
    # The second occurrence is moved, the third cancelled, each on its own (Ultimo).
    moved = server.call(
        "REST_UpdateReservation",
        {"UltimoId": ids[1], "StartTime": "2030-03-26 11:00:00", "EndTime": "2030-03-26 12:00:00"},
    )
    assert moved.status_code == 200, moved.text
    assert server.call("REST_CancelReservation", {"UltimoId": ids[2]}).status_code == 200

    response = server.client.patch(
        f"/api/booking/series/{series_id}",
        json={
            "from": "2030-03-18T09:00:00+01:00",
            "time_of_day": "14:00",
            "duration_minutes": 90,
            "description": "Moved",
        },
        headers=HEADERS,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "series_id": series_id,
        "occurrences": [
            {"ultimo_id": ids[0], "start": "2030-03-18T14:00:00+01:00", "end": "2030-03-18T15:30:00+01:00"},
            {"ultimo_id": ids[3], "start": "2030-04-08T14:00:00+02:00", "end": "2030-04-08T15:30:00+02:00"},
        ],
        "skipped": [],
    }  # fmt: skip
    shown = server.client.get(f"/api/booking/series/{series_id}", headers=HEADERS).json()
    assert shown["description"] == "Moved"
    assert shown["exceptions"] == [ids[1], ids[2]]
    assert [
        (o["ultimo_id"], o["start"], o["end"], o["status"], o["exception"])
        for o in shown["occurrences"]
    ] == [
        (ids[0], "2030-03-18T14:00:00+01:00", "2030-03-18T15:30:00+01:00", "Processed", False),
        (ids[1], "2030-03-26T11:00:00+01:00", "2030-03-26T12:00:00+01:00", "Processed", True),
        (ids[2], "2030-04-01T09:00:00+02:00", "2030-04-01T10:00:00+02:00", "Cancelled", True),
        (ids[3], "2030-04-08T14:00:00+02:00", "2030-04-08T15:30:00+02:00", "Processed", False),
    ]


def test_a_series_edit_under_fail_changes_nothing_on_a_conflict(
    server: Server, world: World
) -> None:
    space = world.space(description="Studio")
    person = world.person()
    created = create(server, **series_body(space, person.id)).json()
    world.reservation(
        space, datetime(2030, 4, 1, 12, tzinfo=UTC), datetime(2030, 4, 1, 13, tzinfo=UTC)
    )
    before = stored(world, space)
    response = server.client.patch(
        f"/api/booking/series/{created['series_id']}",
        json={"time_of_day": "14:30"},
        headers=HEADERS,
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": TAKEN.format("Studio"),
        "code": "1015",
        "details": [
            {
                "start": "2030-04-01T14:30:00+02:00",
                "end": "2030-04-01T15:30:00+02:00",
                "code": "1015",
                "message": TAKEN.format("Studio"),
            }
        ],
    }
    assert stored(world, space) == before
    skipping = server.client.patch(
        f"/api/booking/series/{created['series_id']}",
        json={"time_of_day": "14:30", "on_conflict": "skip"},
        headers=HEADERS,
    )
    assert [o["start"] for o in skipping.json()["occurrences"]] == [
        "2030-03-18T14:30:00+01:00",
        "2030-03-25T14:30:00+01:00",
        "2030-04-08T14:30:00+02:00",
    ]
    assert [s["start"] for s in skipping.json()["skipped"]] == ["2030-04-01T14:30:00+02:00"]


def test_cancel_from_an_occurrence_on(server: Server, world: World) -> None:
    space = world.space()
    person = world.person()
    created = create(server, **series_body(space, person.id)).json()
    series_id = created["series_id"]
    ids = [o["ultimo_id"] for o in created["occurrences"]]
    response = server.client.post(
        f"/api/booking/series/{series_id}/cancel",
        json={"from": "2030-04-01T09:00:00+02:00"},
        headers=HEADERS,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["cancelled"] == ids[2:]
    assert [o["status"] for o in answer["occurrences"]] == [
        "Processed",
        "Processed",
        "Cancelled",
        "Cancelled",
    ]
    # Without "from": every occurrence that has not ended; again, nothing more to cancel.
    everything = server.client.post(f"/api/booking/series/{series_id}/cancel", headers=HEADERS)
    assert everything.json()["cancelled"] == ids[:2]
    again = server.client.post(f"/api/booking/series/{series_id}/cancel", headers=HEADERS)
    assert again.json()["cancelled"] == []
    assert {row[2] for row in stored(world, space)} == {"Cancelled"}


def test_preview_lists_occurrences_and_conflicts_and_stores_nothing(
    server: Server, world: World
) -> None:
    space = world.space()
    person = world.person()
    world.reservation(
        space, datetime(2030, 3, 25, 8, tzinfo=UTC), datetime(2030, 3, 25, 9, tzinfo=UTC)
    )
    before = stored(world, space)
    response = server.client.post(
        "/api/booking/series/preview", json=series_body(space, person.id), headers=HEADERS
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["series_id"] is None
    assert [(o["ultimo_id"], o["start"]) for o in answer["occurrences"]] == [
        (None, "2030-03-18T09:00:00+01:00"),
        (None, "2030-04-01T09:00:00+02:00"),
        (None, "2030-04-08T09:00:00+02:00"),
    ]
    assert [(s["start"], s["code"]) for s in answer["skipped"]] == [
        ("2030-03-25T09:00:00+01:00", "1015")
    ]
    assert stored(world, space) == before


def test_series_need_the_series_grant_and_an_existing_series(server: Server, world: World) -> None:
    space = world.space()
    person = world.person()
    key = world.key(workflows=["REST_CreateReservation", "REST_GetReservationsForSpace"])
    response = server.client.post(
        "/api/booking/series", json=series_body(space, person.id), headers={"ApiKey": key}
    )
    assert response.status_code == 403
    assert response.json() == {
        "message": "This API key may not call series.",
        "code": "WorkflowNotAllowed",
    }
    missing = server.client.get("/api/booking/series/999999", headers=HEADERS)
    assert missing.status_code == 404
    assert missing.json() == {"message": "There is no series 999999.", "code": "RecordNotFound"}
    granted = world.key(workflows=["series"])
    ok = server.client.post(
        "/api/booking/series", json=series_body(space, person.id), headers={"ApiKey": granted}
    )
    assert ok.status_code == 201


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_client_books_reads_changes_and_cancels_a_series(
    server: Server, world: World, kind: str
) -> None:
    space = world.space(description="Client room")
    person = world.person()
    world.reservation(
        space, datetime(2030, 3, 25, 8, tzinfo=UTC), datetime(2030, 3, 25, 9, tzinfo=UTC)
    )
    first = {
        "space_id": space.id,
        "applicant_id": person.id,
        "start": datetime(2030, 3, 18, 9),  # naive: wall-clock time in the space's zone
        "end": datetime(2030, 3, 18, 10),
        "rrule": "FREQ=WEEKLY;COUNT=4",
    }

    async def steps_async() -> tuple[Any, ...]:
        async with AsyncUltimoClient(server.base_url, DEMO_KEY) as client:
            with pytest.raises(UltimoError) as refused:
                await client.create_series(**first)
            preview = await client.create_series(**first, preview=True)
            booked = await client.create_series(**first, on_conflict="skip")
            assert booked.series_id is not None
            changed = await client.update_series(booked.series_id, time_of_day="11:00")
            read = await client.get_series(booked.series_id)
            cancelled = await client.cancel_series(
                booked.series_id, from_=changed.occurrences[-1].start
            )
            return refused.value, preview, booked, changed, read, cancelled

    def steps() -> tuple[Any, ...]:
        if kind == "async":
            return asyncio.run(steps_async())
        with UltimoClient(server.base_url, DEMO_KEY) as client:
            with pytest.raises(UltimoError) as refused:
                client.create_series(**first)
            preview = client.create_series(**first, preview=True)
            booked = client.create_series(**first, on_conflict="skip")
            assert booked.series_id is not None
            changed = client.update_series(booked.series_id, time_of_day="11:00")
            read = client.get_series(booked.series_id)
            cancelled = client.cancel_series(booked.series_id, from_=changed.occurrences[-1].start)
            return refused.value, preview, booked, changed, read, cancelled

    refused, preview, booked, changed, read, cancelled = steps()
    assert isinstance(refused, SpaceNotAvailable)
    assert [d["start"] for d in refused.details] == ["2030-03-25T09:00:00+01:00"]
    assert preview.series_id is None
    assert [o.ultimo_id for o in preview.occurrences] == [None, None, None]
    assert [s.start for s in preview.skipped] == ["2030-03-25T09:00:00+01:00"]
    assert [o.start for o in booked.occurrences] == [
        datetime(2030, 3, 18, 9, tzinfo=WINTER),
        datetime(2030, 4, 1, 9, tzinfo=SUMMER),
        datetime(2030, 4, 8, 9, tzinfo=SUMMER),
    ]
    assert booked.skipped == [
        SkippedOccurrence(
            "2030-03-25T09:00:00+01:00",
            "2030-03-25T10:00:00+01:00",
            "1015",
            TAKEN.format("Client room"),
        )
    ]
    assert [o.start.hour for o in changed.occurrences] == [11, 11, 11]
    assert read.rrule == "FREQ=WEEKLY;COUNT=4"
    assert [(o.start.hour, o.status, o.exception) for o in read.occurrences] == [
        (11, "Processed", False)
    ] * 3
    assert cancelled.cancelled == [booked.occurrences[-1].ultimo_id]
    assert [o.status for o in cancelled.occurrences] == ["Processed", "Processed", "Cancelled"]


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        pytest.param(
            "POST",
            "/api/booking/series",
            {"description": "a\x00b"},
            "body.description: String should match pattern "
            "'^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$'",
            id="NUL in the description",
        ),
        pytest.param(
            "POST",
            "/api/booking/series",
            {"space_id": "S\x01"},
            "body.space_id: String should match pattern '^[^\\x00-\\x1f\\x7f]*$'",
            id="control character in an id",
        ),
        pytest.param(
            "GET",
            "/api/booking/series/99999999999999999999",
            None,
            "path.series_id: Input should be less than or equal to 2147483647",
            id="series id beyond the column",
        ),
        pytest.param(
            "PATCH",
            "/api/booking/series/1",
            {"duration_minutes": 0},
            "body.duration_minutes: Input should be greater than or equal to 1",
            id="no duration",
        ),
    ],
)
def test_hostile_series_requests_are_refused_clearly(
    server: Server, world: World, method: str, path: str, body: Any, message: str
) -> None:
    if method == "POST":
        body = series_body(world.space(), world.person().id, **body)
    response = server.client.request(method, path, json=body, headers=HEADERS)
    assert response.status_code == 400
    assert response.json() == {"message": message, "code": "InvalidParameter"}
