"""Direct statements store and return exactly what SQLAlchemy stores and returns.

On SQLite the hot statements run on the driver connection (``storage.direct``); these
tests write the same values both ways and compare what the database holds, byte for
byte, and read rows both ways and compare the values. On PostgreSQL the statements go
through SQLAlchemy, and the same assertions hold trivially.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, insert, select, text

from roomline.domain.reservations import Interval, Person, ReservationStatus, Space
from roomline.domain.times import utc_text
from roomline.services.clock import SystemClock
from roomline.services.reservations import hot_paths_for
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.direct import _SQLITE, DirectStatement, JsonRecords
from roomline.storage.reservations import ListedReservation
from roomline.storage.tables import reservations
from tests.storage.helpers import database_with

ROOM = Space("R1", "Room one", "Europe/Amsterdam", 5, 10, 4, True)
T0 = datetime(2031, 3, 30, 0, 30, 0, 250_000, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from database_with(database_url, ROOM, Person("P1", "Fasse, J."))


def hot_window(database: Database, start: datetime, end: datetime) -> list[ListedReservation]:
    """The window as the Get's hot path reads it (asyncpg's on PostgreSQL)."""
    hot = hot_paths_for(database, SystemClock())

    async def read() -> list[ListedReservation]:
        try:
            return await hot.read(lambda path: path.window(ROOM.id, start, end))
        finally:
            await hot.close()

    return asyncio.run(read())


def _values(start: datetime, external_id: str) -> dict[str, object]:
    end = start + timedelta(minutes=45, microseconds=7)
    return {
        "space_id": ROOM.id,
        "applicant_id": "P1",
        "description": "Überleg ’s dir",
        "start_time": start,
        "end_time": end,
        "preparation_minutes": 5,
        "cleanup_minutes": 10,
        "blocked_start": start - timedelta(minutes=5),
        "blocked_end": end + timedelta(minutes=10),
        "status": ReservationStatus.PROCESSED.value,
        "api_key_id": None,
        "external_id": external_id,
        "request_fingerprint": None,
        "created_at": T0,
        "updated_at": T0,
    }


def test_a_direct_insert_stores_what_sqlalchemy_stores(database: Database) -> None:
    direct = _values(T0, "direct")
    core = _values(T0 + timedelta(days=1), "core")
    with database.write() as conn:
        direct_id = store.insert_reservation(
            conn,
            space=ROOM,
            applicant_id="P1",
            description=str(direct["description"]),
            start=T0,
            end=direct["end_time"],  # type: ignore[arg-type]
            blocked=Interval(direct["blocked_start"], direct["blocked_end"]),  # type: ignore[arg-type]
            api_key_id=None,
            external_id="direct",
            request_fingerprint=None,
            now=T0,
        )
        core_id = conn.execute(
            insert(reservations).values(core).returning(reservations.c.ultimo_id)
        ).scalar_one()
    with database.read() as conn:
        # What the database holds, column by column, as text (SQLite stores times as
        # text; PostgreSQL shows its own rendering): equal but for the day and the id.
        stored = {
            row.ultimo_id: row
            for row in conn.execute(
                select(reservations).where(reservations.c.ultimo_id.in_([direct_id, core_id]))
            )
        }
        direct_row, core_row = stored[direct_id], stored[core_id]
        shifted = ("start_time", "end_time", "blocked_start", "blocked_end")
        for column in [column.key for column in reservations.columns]:
            if column in shifted:
                assert getattr(core_row, column) - getattr(direct_row, column) == timedelta(
                    days=1
                ), column
            elif column not in ("ultimo_id", "external_id"):
                assert getattr(direct_row, column) == getattr(core_row, column), column
        assert direct_row.start_time == T0
        if database.dialect == "sqlite":
            # What SQLite holds: the same text and storage class both ways.
            raw = """
                SELECT start_time, typeof(start_time), blocked_end, typeof(blocked_end),
                       typeof(api_key_id), typeof(preparation_minutes)
                FROM reservations WHERE ultimo_id = :i
            """
            direct_raw = conn.execute(text(raw), {"i": direct_id}).one()
            core_raw = conn.execute(text(raw), {"i": core_id}).one()
            assert direct_raw[0] == utc_text(T0)
            assert core_raw[0] == utc_text(T0 + timedelta(days=1))
            assert direct_raw[1:2] + direct_raw[3:] == core_raw[1:2] + core_raw[3:]


def test_json_records_store_what_sqlalchemy_stores_for_each_row(database: Database) -> None:
    """Rows passed as one JSON array (``JsonRecords``) are stored as inserting each
    through SQLAlchemy stores them: times to the microsecond, NULLs, quotes and letters
    beyond ASCII, in the order given."""
    later = timedelta(days=10)
    rows, core = [], []
    for n in range(3):
        rows.append(_values(T0 + timedelta(days=n), f"json-{n}"))
        core.append(_values(T0 + timedelta(days=n) + later, f"core-{n}"))
    for values in (rows[1], core[1]):
        values["description"] = 'It\'s "quoted" \\ and 日本語 \U0001f600'
    for values in (rows[2], core[2]):
        values["api_key_id"] = None
        values["request_fingerprint"] = "f" * 64
    records = JsonRecords("rows", {key: reservations.c[key].type for key in rows[0]})
    statement = DirectStatement(
        insert(reservations).from_select(list(rows[0]), select(*records.fields.values()))
    )
    with database.write() as conn:
        if database.dialect == "postgresql":
            # Times are read as UTC whatever the session's zone.
            conn.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
        statement.write(conn, {"rows": records.value(rows)})
        conn.execute(insert(reservations), core)
    times = ("start_time", "end_time", "blocked_start", "blocked_end")
    with database.read() as conn:
        stored = {
            row.external_id: row
            for row in conn.execute(select(reservations).order_by(reservations.c.ultimo_id))
        }
        if database.dialect == "sqlite":
            # The same text and storage class both ways.
            raw = "SELECT typeof(start_time), typeof(api_key_id), typeof(request_fingerprint), "
            raw += "created_at, substr(start_time, 11) FROM reservations WHERE external_id = :e"
            for n in range(3):
                as_json = conn.execute(text(raw), {"e": f"json-{n}"}).one()
                assert as_json == conn.execute(text(raw), {"e": f"core-{n}"}).one()
                assert as_json[3] == utc_text(T0)
    assert [key for key in stored if key.startswith("json-")] == ["json-0", "json-1", "json-2"]
    for n in range(3):
        by_json, by_core = stored[f"json-{n}"], stored[f"core-{n}"]
        for column in rows[0]:
            if column in times:
                assert getattr(by_json, column) + later == getattr(by_core, column), column
                assert getattr(by_json, column) == rows[n][column], column
            elif column != "external_id":
                assert getattr(by_json, column) == getattr(by_core, column), column
    assert stored["json-1"].description == rows[1]["description"]


def test_direct_reads_return_what_sqlalchemy_returns(database: Database) -> None:
    with database.write() as conn:
        ultimo_id = conn.execute(
            insert(reservations).values(_values(T0, "x")).returning(reservations.c.ultimo_id)
        ).scalar_one()
    with database.write() as conn:  # a write transaction: direct on SQLite
        direct = store.get(conn, ultimo_id)
        space = masterdata.get_space(conn, ROOM.id)
        person = masterdata.get_person(conn, "P1")
    with database.engine.connect() as plain:
        row = plain.execute(select(reservations).where(reservations.c.ultimo_id == ultimo_id)).one()
    assert direct == store.reservation_from_row(row)
    assert direct is not None and direct.start.tzinfo is UTC
    assert space == ROOM
    assert person == Person("P1", "Fasse, J.")


def test_the_hot_listing_carries_the_stored_utc_text(database: Database) -> None:
    with database.write() as conn:
        conn.execute(insert(reservations).values(_values(T0, "x")))
    window = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    hot = hot_window(database, *window)
    with database.read() as conn:
        core = store.in_window(conn, ROOM.id, *window)
    assert hot == core
    assert [item.start for item in hot] == [utc_text(T0)]
    assert hot[0].applicant_name == "Fasse, J."


def test_the_hot_listing_bounds_the_window_as_sqlalchemy_does(database: Database) -> None:
    """The window's bounds go in as UTC text: edges, microseconds and offsets as Core."""
    with database.write() as conn:
        for hours in (0, 2, 4):
            conn.execute(insert(reservations).values(_values(T0 + timedelta(hours=hours), "")))
    cest = timezone(timedelta(hours=2))
    first_end = T0 + timedelta(minutes=45, microseconds=7)
    windows = [
        (first_end, T0 + timedelta(hours=2, minutes=1)),  # starts where the first one ends
        (first_end - timedelta(microseconds=1), T0 + timedelta(hours=2)),  # ends at the second
        (T0.astimezone(cest), (T0 + timedelta(hours=4)).astimezone(cest)),  # given in +02:00
        (T0 + timedelta(hours=5), T0 + timedelta(hours=6)),  # after them all
    ]
    found = []
    for window in windows:
        hot = hot_window(database, *window)
        with database.read() as conn:
            core = store.in_window(conn, ROOM.id, *window)
        assert hot == core, window
        found.append([item.start for item in hot])
    starts = [utc_text(T0 + timedelta(hours=hours)) for hours in (0, 2, 4)]
    assert found == [[starts[1]], [starts[0]], starts[:2], []]


@pytest.mark.parametrize(
    "instant",
    [
        T0,
        datetime(2031, 10, 26, 2, 30, 0, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),  # fold 0
        datetime(2031, 10, 26, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(1937, 6, 30, 23, 59, 59, 999_999, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(2031, 1, 1, 5, 45, tzinfo=timezone(timedelta(hours=5, minutes=45))),
        datetime(1, 1, 1, 12, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_a_direct_statement_binds_times_as_sqlalchemy_does(instant: datetime) -> None:
    # Direct statements bind UTCDateTime values in one step; SQLAlchemy goes through the
    # type decorator and SQLite's DATETIME processor. Both must write the same text.
    column = reservations.c.start_time
    through_sqlalchemy = column.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
    direct = DirectStatement(select(reservations).where(column == bindparam("at")))
    assert direct._bound("at", instant) == through_sqlalchemy(instant)


def test_a_direct_statement_refuses_a_naive_time() -> None:
    direct = DirectStatement(
        select(reservations).where(reservations.c.start_time == bindparam("at"))
    )
    with pytest.raises(ValueError, match="naive"):
        direct._bound("at", datetime(2031, 1, 1))
