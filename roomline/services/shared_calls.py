"""One call under way per key, its result shared by everyone who asks meanwhile.

Used where many tasks of one event loop ask the same question at the same moment: the
streams a change wakes, all asking for the page after one cursor (``changes.SharedPages``),
and a burst of webhook attempts, all needing one host's addresses
(``webhook_sender.CheckedAddresses``). Only calls under way are shared: whoever asks after
one ended starts a new one, so no answer is older than its question.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SharedCalls(Generic[K, T]):
    """Calls under way, by key."""

    def __init__(self) -> None:
        self._under_way: dict[K, asyncio.Future[T]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``'s result, or that of the call for ``key`` already under way. One
        caller going away (cancelled) does not cancel the call for the others."""
        under_way = self._under_way.get(key)
        if under_way is None or under_way.get_loop() is not asyncio.get_running_loop():
            # Nothing under way, or left behind by a loop that closed before the call ended
            # (its done-callback, which drops it, never ran): an app serving on a new loop.
            under_way = asyncio.ensure_future(call())
            self._under_way[key] = under_way
            under_way.add_done_callback(functools.partial(self._ended, key))
        return await asyncio.shield(under_way)

    def cancel(self) -> None:
        """Cancel every call under way (their callers get CancelledError)."""
        for under_way in list(self._under_way.values()):
            under_way.cancel()

    def _ended(self, key: K, ended: asyncio.Future[T]) -> None:
        self._under_way.pop(key, None)
        if not ended.cancelled():
            ended.exception()  # retrieved here: each caller raises its own copy
