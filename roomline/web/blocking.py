"""Running blocking service code from the web view's async handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from roomline.domain.errors import ServiceUnavailable
from roomline.storage.database import DatabaseUnavailable

T = TypeVar("T")


async def run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking service code off the event loop; a database timeout becomes a 503."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except DatabaseUnavailable as exc:
        raise ServiceUnavailable("The database is busy or unreachable; retry shortly.") from exc
