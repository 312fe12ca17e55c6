"""Running a use case the way ``/api/booking`` does, from a synchronous test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from roomline.storage.hotpath import HotPath, HotPaths


def read_on_hot_path(hot: HotPaths, use_case: Callable[[HotPath], Awaitable[Any]]) -> Any:
    """Run ``use_case`` through ``hot.read`` in an event loop of its own (closing the
    pools it opened, which belong to that loop)."""

    async def read() -> Any:
        try:
            return await hot.read(use_case)
        finally:
            await hot.close()

    return asyncio.run(read())
