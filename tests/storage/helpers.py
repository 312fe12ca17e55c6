"""Set-up shared by the storage tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from roomline.domain.reservations import Person, Space
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade


def database_with(url: str, space: Space, person: Person) -> Iterator[Database]:
    """Yield a migrated database at ``url`` holding ``space`` and ``person``; dispose after."""
    database = Database(url)
    upgrade(database)
    with database.write() as conn:
        masterdata.add_space(conn, space)
        masterdata.add_person(conn, person)
    yield database
    database.dispose()


def run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(0)`` … ``work(count - 1)`` in threads released at once; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
