"""Retrying a whole write transaction that PostgreSQL aborted for reasons of timing.

A deadlock (40P01) or serialization failure (40001) rolls the transaction back entirely
(its audit entry too), so running it again is safe and is what PostgreSQL asks for. Any
other error, and SQLite's, passes straight through.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 4

P = ParamSpec("P")
T = TypeVar("T")


def is_transient(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def backoff(attempt: int) -> float:
    """Seconds to wait before running a write again after ``attempt`` failed: growing,
    and random so that writes that collided do not collide again in step."""
    return random.uniform(0.005, 0.01 * 2**attempt)


def retry_transient(operation: Callable[P, T]) -> Callable[P, T]:
    """Run ``operation`` again (up to ``ATTEMPTS`` times) when the database says to retry."""

    @functools.wraps(operation)
    def retrying(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return operation(*args, **kwargs)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not is_transient(exc):
                    raise
                time.sleep(backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    return retrying
