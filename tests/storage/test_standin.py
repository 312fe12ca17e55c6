"""The stand-in's journal keeps the newest entries only, on both databases."""

from __future__ import annotations

from roomline.storage import standin
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade


def test_the_journal_keeps_the_newest_entries(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
        standin.create_tables(database)
        with database.write() as conn:
            for number in range(standin.JOURNAL_LIMIT + 3):
                standin.record(conn, "REST_GetReservationsForSpace", {"number": number})
            standin.record(conn, "REST_CreateReservation", {"number": -1})
        with database.read() as conn:
            everything = standin.entries(conn, None, standin.JOURNAL_LIMIT + 10)
            creates = standin.entries(conn, "rest_createreservation", 10)
    finally:
        database.dispose()
    assert len(everything) == standin.JOURNAL_LIMIT
    assert [entry["number"] for entry in everything[:2]] == [4, 5]
    assert everything[-1] == {"id": standin.JOURNAL_LIMIT + 4, "number": -1}
    assert creates == [everything[-1]]
