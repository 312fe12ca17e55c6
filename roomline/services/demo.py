"""The demo data set: Ultimo's documentation playground, reproduced.

It holds the playground's API key, applicant ``ULTIMO`` (``Fasse, J.``), spaces
``003.0.10`` and ``C-25``, and reservations 6710 and 6711, so the next new reservation
is ``00000006712`` as the documentation shows. Space descriptions are chosen so that the
documented 1015 messages come out verbatim. The demo clock starts pinned before the
documented examples' times, so create, get, update and cancel work as documented.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from roomline.domain.reservations import Person, Space, blocked_interval
from roomline.domain.times import parse_instant, zone_named
from roomline.services import clock
from roomline.services.keys import store_key
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.tables import people, reservations, spaces

DEMO_API_KEY = "FC1555BA3F5C4C329155B5ADAC2E8AB0"
DEMO_NOW = "2021-06-13T10:00:00+12:00"
# The web view's zone in the demo: the one its clock is given in, C-25's.
DEMO_TIME_ZONE = "Pacific/Auckland"
LAST_DOCUMENTED_ULTIMO_ID = 6711

DEMO_SPACES = (
    Space("003.0.10", "meeting room", "Europe/Amsterdam", 15, 15, 8, True),
    Space("C-25", "Meeting room 2", "Pacific/Auckland", 0, 0, 12, True),
)
DEMO_PEOPLE = (Person("ULTIMO", "Fasse, J."),)
# (UltimoId, space, description, wall-clock start, wall-clock end) in the space's zone.
DEMO_RESERVATIONS = (
    (6710, "C-25", "Team meeting Front office", "2021-04-20 08:00:00", "2021-04-20 09:00:00"),
    (6711, "003.0.10", "Weekly planning", "2021-06-14 09:00:00", "2021-06-14 10:00:00"),
)


def is_empty(conn: Connection) -> bool:
    for table in (spaces, people, reservations):
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            return False
    return True


def seed_if_empty(database: Database) -> bool:
    """Load the demo data set into an empty database; return whether it did."""
    with database.write() as conn:
        if not is_empty(conn):
            return False
        created = datetime(2021, 4, 1, tzinfo=UTC)
        for space in DEMO_SPACES:
            masterdata.add_space(conn, space)
        for person in DEMO_PEOPLE:
            masterdata.add_person(conn, person)
        store_key(conn, name="demo", secret=DEMO_API_KEY, now=created)
        by_id = {space.id: space for space in DEMO_SPACES}
        for ultimo_id, space_id, description, start_text, end_text in DEMO_RESERVATIONS:
            space = by_id[space_id]
            zone = zone_named(space.time_zone or "UTC")
            start = parse_instant("StartTime", start_text, zone)
            end = parse_instant("EndTime", end_text, zone)
            store.insert_reservation(
                conn,
                space=space,
                applicant_id="ULTIMO",
                description=description,
                start=start,
                end=end,
                blocked=blocked_interval(
                    start, end, space.preparation_minutes, space.cleanup_minutes
                ),
                api_key_id=None,
                external_id="",
                request_fingerprint=None,
                now=created,
                ultimo_id=ultimo_id,
            )
        store.continue_numbering_after(conn, LAST_DOCUMENTED_ULTIMO_ID)
        clock.pin(conn, parse_instant("now", DEMO_NOW, zone_named("UTC")))
    return True
