"""One reservation as ``/api/booking`` shows it, read in a thread (door, CLI) and on the
hot paths (the API's GET, on the event loop): the same answer on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from roomline.domain.errors import UnknownReservation
from roomline.services.clock import SystemClock
from roomline.services.reservation_listing import (
    ListedReservation,
    one_reservation,
    one_reservation_on,
)
from roomline.services.reservations import hot_paths_for
from roomline.storage.migrate import upgrade
from tests.conftest import World
from tests.services.helpers import read_on_hot_path


def test_the_hot_path_and_a_thread_read_the_same_reservation(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    world = make_world(database_url)
    upgrade(world.database)
    zoned, unzoned = world.space(tz="Pacific/Auckland"), world.space(tz=None)
    person, other = world.person("Tane, M."), world.person("Berg, A.")
    start = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
    in_zone = world.reservation(zoned, start, start.replace(hour=10), applicant=person.id)
    default_zone = world.reservation(unzoned, start, start.replace(hour=10), applicant=other.id)
    hot = hot_paths_for(world.database, SystemClock())

    def on_hot_path(ultimo_id: int) -> ListedReservation:
        return read_on_hot_path(
            hot, lambda path: one_reservation_on(path, ultimo_id, default_zone="Europe/Oslo")
        )

    for ultimo_id, name, zone in [
        (in_zone, "Tane, M.", "Pacific/Auckland"),
        (default_zone, "Berg, A.", "Europe/Oslo"),  # a space without a zone of its own
    ]:
        threaded = one_reservation(world.database, ultimo_id, default_zone="Europe/Oslo")
        assert on_hot_path(ultimo_id) == threaded
        assert (threaded.reservation.ultimo_id, threaded.applicant_name) == (ultimo_id, name)
        assert (threaded.time_zone, threaded.reservation.start) == (zone, start)
    with pytest.raises(UnknownReservation, match=r"There is no reservation 00099999999\."):
        on_hot_path(99_999_999)
    with pytest.raises(UnknownReservation):
        one_reservation(world.database, 99_999_999, default_zone="UTC")
