"""``SharedCalls``: one call under way per key, shared by whoever asks meanwhile, on one
event loop."""

from __future__ import annotations

import asyncio

from roomline.services.shared_calls import SharedCalls


def test_a_call_a_closed_loop_left_under_way_is_not_shared_with_the_next_loop() -> None:
    calls: SharedCalls[str, int] = SharedCalls()

    async def never() -> int:
        await asyncio.Event().wait()
        return 0

    async def ask_and_leave() -> asyncio.Future[int]:
        asker = asyncio.ensure_future(calls.run("page", never))
        await asyncio.sleep(0)  # the call is under way
        return asker

    first = asyncio.new_event_loop()
    left = first.run_until_complete(ask_and_leave())
    first.close()  # closed with the call still under way: its done-callback never runs

    async def ask_again() -> int:
        return await calls.run("page", lambda: asyncio.sleep(0, result=7))

    assert asyncio.run(ask_again()) == 7
    assert not left.done()
