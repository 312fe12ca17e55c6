"""When to try a request again, and how long to wait first.

Retried: 429, 502, 503 and 504 answers, and transport failures (refused or broken
connections, timeouts). A non-idempotent write is never retried unless
``retry_writes`` says so, because its first attempt may have been carried out: create
without an ExternalId, and update. Create with an ExternalId is idempotent (the server
answers a repeat with the same UltimoId), cancel is idempotent by the contract, and get
only reads. The wait honours ``Retry-After``; without it, it grows exponentially. A
``Retry-After`` longer than ``max_delay`` is not waited out: the error is raised, with
the delay, for the caller to decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Failures after which trying again may succeed.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry; ``RetryPolicy(attempts=1)`` never retries."""

    attempts: int = 3
    backoff: float = 0.5
    max_delay: float = 30.0
    retry_writes: bool = False
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts counts the first try too; it must be at least 1")
        if self.backoff < 0 or self.max_delay < 0:
            raise ValueError("backoff and max_delay cannot be negative")

    def may_retry(self, idempotent: bool, attempt: int) -> bool:
        """Return whether a request that failed on try number ``attempt`` may go again."""
        return attempt < self.attempts and (idempotent or self.retry_writes)

    def delay_after_status(
        self, response: httpx.Response, idempotent: bool, attempt: int
    ) -> float | None:
        """Return seconds to wait before retrying after ``response``, or None: do not."""
        if response.status_code not in self.statuses or not self.may_retry(idempotent, attempt):
            return None
        retry_after = retry_after_seconds(response)
        if retry_after is not None:
            return retry_after if retry_after <= self.max_delay else None
        return self.backoff_delay(attempt)

    def delay_after_error(self, idempotent: bool, attempt: int) -> float | None:
        """Return seconds to wait before retrying after a transport failure, or None."""
        return self.backoff_delay(attempt) if self.may_retry(idempotent, attempt) else None

    def longest_wait(self, attempt: int) -> float:
        """Return the most the backoff waits after try ``attempt`` can add up to."""
        return sum(
            min(self.max_delay, self.backoff * 2 ** (later - 1))
            for later in range(attempt, self.attempts)
        )

    def backoff_delay(self, attempt: int) -> float:
        delay = min(self.max_delay, self.backoff * 2 ** (attempt - 1))
        return random.uniform(delay / 2, delay) if self.jitter else delay


NO_RETRY = RetryPolicy(attempts=1)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Read ``Retry-After`` as seconds (a number or an HTTP date); None if absent or odd."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
