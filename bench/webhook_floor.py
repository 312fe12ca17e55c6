"""The floor of a webhook for every change (``python -m bench.changes --listen floor``).

    python -m bench.webhook_floor DATABASE_URL RECEIVER_URL CURSOR BENCH_PID

A process that does the least any webhook sender built on roomline's client must do for
each change, and nothing more: every ``ROUND_GAP`` it reads the new page of the log of
changes, from ``CURSOR`` on (roomline's own ``ChangeLog.read_after``, as a delivery round
does), shapes each ``reservation.created`` change's body with the fan-out's own
``change_body``, and signs and POSTs it with roomline's own sender (``webhook_sender``: aiohttp, the target check, the Standard
Webhooks signature) on uvloop, as the background process does. It writes nothing: no
delivery, no attempt, no cursor. So it keeps none of roomline's promises (a killed
sender loses what it was sending, a failed attempt is never retried) and is not a way to
deliver webhooks; it is what Create with a webhook would cost if those promises were free.
If Create beside it stays under 0.9x of Create alone, no sender on aiohttp meets issue
15's target on the machine where that was measured. It exits once ``BENCH_PID`` (the
benchmark that started it, not its parent) is gone.
"""

from __future__ import annotations

import asyncio
import os
import sys

import uvloop

from roomline.domain.webhooks import Targets
from roomline.services.changes import Change, ChangeLog, Retention
from roomline.services.clock import SystemClock
from roomline.services.webhook_delivery import (
    FAN_OUT_PAGE,
    ROUND_GAP,
    change_body,
    new_message_id,
)
from roomline.services.webhook_sender import Outcome, Sender
from roomline.storage.database import Database

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def send_every_change(
    database_url: str, receiver_url: str, cursor: int, bench_pid: int
) -> None:
    database = Database(database_url)
    changes = ChangeLog(database, SystemClock(), "UTC", Retention(30))
    in_flight: set[asyncio.Task[Outcome]] = set()  # kept until done, as asyncio asks

    def read_after(after: int) -> list[Change]:
        with database.read() as conn:
            return changes.read_after(conn, after, FAN_OUT_PAGE)

    async with Sender(Targets.from_setting("127.0.0.0/8;::1/128")).session() as session:
        while _alive(bench_pid):
            page = await asyncio.to_thread(read_after, cursor)
            for change in page:
                if change.type != "reservation.created":
                    continue
                body = change_body(change)
                task = asyncio.create_task(
                    session.send(receiver_url, (SECRET,), new_message_id(), body)
                )
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if page:
                cursor = page[-1].cursor
            await asyncio.sleep(ROUND_GAP)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    uvloop.run(send_every_change(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
