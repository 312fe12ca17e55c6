"""Request limits: rate limits, daily quotas, and Ultimo's documented quotas as a preset.

Ultimo documents 100 requests per 10 seconds and 10,000 per day for all API keys of an
environment combined, and 1 MB per request. roomline counts:

- moving-window rate limits (``100/10 seconds``): the request that would make more than
  100 within any 10 seconds is refused, so "the 101st request within 10 seconds" is
  refused exactly, not only within a clock-aligned bucket;
- daily quotas per UTC day (``10000``), for all keys combined and per key
  (``api_keys.daily_quota``, else the ``key_daily_quota`` setting).

Counters live where every worker process and host sees them: in the database by default,
or in Redis (through the ``limits`` library) when a Redis URL is configured. Only
requests with a valid key count, so unauthenticated noise cannot use up a deployment's
quota. A refused request answers ``TooManyRequests`` with the seconds until it could
succeed. With no limit configured and no per-key quota, nothing is counted at all.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from roomline.domain.errors import ServiceUnavailable, TooManyRequests
from roomline.storage import limits as store
from roomline.storage.database import Database
from roomline.storage.keys import StoredKey

DAY_SECONDS = 86_400

# Ultimo's documented quotas, switched on together by ``--ultimo-quotas``.
ULTIMO_RATE_LIMIT = "100/10 seconds"
ULTIMO_DAILY_QUOTA = 10_000
ULTIMO_MAX_BODY_BYTES = 1_000_000

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3_600),
    **dict.fromkeys(("d", "day", "days"), DAY_SECONDS),
}
_RATE = re.compile(r"\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*([a-z]+)\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``amount`` requests within any ``seconds`` (a moving window)."""

    amount: int
    seconds: int

    def __str__(self) -> str:
        unit, size = next(
            (unit, size)
            for unit, size in (("day", DAY_SECONDS), ("hour", 3_600), ("minute", 60), ("second", 1))
            if self.seconds % size == 0
        )
        count = self.seconds // size
        return f"{self.amount} requests per {unit if count == 1 else f'{count} {unit}s'}"


def parse_rate_limits(text: str) -> tuple[RateLimit, ...]:
    """Read ``100/10 seconds``, ``5/second``, ``100 per 10s``; several joined by ``;``."""
    limits = []
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        match = _RATE.fullmatch(part)
        unit = None if match is None else _UNITS.get(match.group(3).lower())
        if match is None or unit is None:
            raise ValueError(
                f"rate limit {part.strip()!r} is not like '100/10 seconds', '5/second' or "
                "'1000/hour'"
            )
        amount, multiple = int(match.group(1)), int(match.group(2) or 1)
        if amount < 1 or multiple < 1:
            raise ValueError(f"rate limit {part.strip()!r} must count at least 1 per period")
        limits.append(RateLimit(amount, multiple * unit))
    if not limits:
        raise ValueError("a rate limit is empty; write e.g. '100/10 seconds'")
    return tuple(limits)


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Which limits apply: to all keys combined, and to each key on its own."""

    rates: tuple[RateLimit, ...] = ()
    daily_quota: int | None = None
    key_rates: tuple[RateLimit, ...] = ()
    key_daily_quota: int | None = None

    @property
    def counts_every_request(self) -> bool:
        return bool(self.rates or self.key_rates) or (
            self.daily_quota is not None or self.key_daily_quota is not None
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One counter a request must pass: a moving window, or a quota per UTC day."""

    limit_key: str
    amount: int
    seconds: int
    daily: bool
    describes: str  # for the 429 message: "100 requests per 10 seconds for all API keys"


class Counters(Protocol):
    def hit(self, checks: Sequence[Check], now: float) -> None:
        """Count one request against every check, or raise TooManyRequests."""

    def wait(self, check: Check, now: float) -> float | None:
        """Return None if a moving-window ``check`` has room, else the seconds until it
        has; count nothing."""


class Limiter:
    """Applies a policy to the request of one key, counting in shared ``counters``."""

    def __init__(
        self, policy: LimitPolicy, counters: Counters, now: Callable[[], float] = time.time
    ) -> None:
        self.policy = policy
        self.counters = counters
        # The time windows are counted in (epoch seconds): the system clock, or a demo's.
        self.now = now
        self._shared = [
            Check(
                f"rate:all:{r.amount}/{r.seconds}",
                r.amount,
                r.seconds,
                False,
                f"{r} for all API keys combined",
            )
            for r in policy.rates
        ]
        if policy.daily_quota is not None:
            self._shared.append(
                Check(
                    "quota:all",
                    policy.daily_quota,
                    DAY_SECONDS,
                    True,
                    f"{policy.daily_quota} requests per day for all API keys combined",
                )
            )

    def counts(self, key: StoredKey) -> bool:
        """Whether ``check`` counts a request of ``key`` at all (it may write a counter)."""
        return self.policy.counts_every_request or key.daily_quota is not None

    def check(self, key: StoredKey) -> None:
        """Count one request of ``key``; raise TooManyRequests if a limit is reached."""
        if not self.counts(key):
            return
        checks = [
            Check(
                f"rate:key:{key.id}:{r.amount}/{r.seconds}",
                r.amount,
                r.seconds,
                False,
                f"{r} for this API key",
            )
            for r in self.policy.key_rates
        ]
        checks[:0] = [check for check in self._shared if not check.daily]
        checks += [check for check in self._shared if check.daily]
        quota = key.daily_quota if key.daily_quota is not None else self.policy.key_daily_quota
        if quota is not None:
            checks.append(
                Check(
                    f"quota:key:{key.id}",
                    quota,
                    DAY_SECONDS,
                    True,
                    f"{quota} requests per day for this API key",
                )
            )
        self.counters.hit(checks, self.now())


def refused(check: Check, wait_seconds: float) -> TooManyRequests:
    retry_after = max(1, math.ceil(wait_seconds))
    return TooManyRequests(
        f"Too many requests: the limit of {check.describes} is reached; "
        f"retry after {retry_after} seconds.",
        retry_after_seconds=retry_after,
    )


def day_start(now: float) -> int:
    return int(now // DAY_SECONDS) * DAY_SECONDS


class DatabaseCounters:
    """Counters in the database: one transaction per request, all its counts or none."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def hit(self, checks: Sequence[Check], now: float) -> None:
        now_ms = int(now * 1000)
        # Raising inside the transaction rolls back the counts this request made so far.
        with self.database.write() as conn:
            for check in checks:
                if check.daily:
                    start = day_start(now)
                    if not store.hit_fixed_window(conn, check.limit_key, start, check.amount):
                        raise refused(check, start + DAY_SECONDS - now)
                    continue
                wait_ms = store.hit_moving_window(
                    conn, check.limit_key, check.amount, check.seconds * 1000, now_ms
                )
                if wait_ms is not None:
                    raise refused(check, wait_ms / 1000)

    def wait(self, check: Check, now: float) -> float | None:
        now_ms = int(now * 1000)
        with self.database.read() as conn:
            wait_ms = store.moving_window_wait(
                conn, check.limit_key, check.amount, check.seconds * 1000, now_ms
            )
        return None if wait_ms is None else wait_ms / 1000


class RedisCounters:
    """Counters in Redis through the ``limits`` library (atomic Lua scripts).

    Rate limits use its moving window, which records a request only when it is allowed.
    Daily quotas use its fixed window keyed by the UTC day; that one counts a request
    even when a later check refuses it.
    """

    def __init__(self, url: str, prefix: str) -> None:
        from limits.storage import RedisStorage
        from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
        from redis.exceptions import RedisError

        storage = RedisStorage(url, key_prefix=prefix)
        self.moving = MovingWindowRateLimiter(storage)
        self.fixed = FixedWindowRateLimiter(storage)
        self.errors: tuple[type[Exception], ...] = (RedisError,)

    def hit(self, checks: Sequence[Check], now: float) -> None:
        from limits import RateLimitItemPerDay, RateLimitItemPerSecond

        try:
            for check in checks:
                if check.daily:
                    day = int(now // DAY_SECONDS)
                    item = RateLimitItemPerDay(check.amount, 1)
                    if not self.fixed.hit(item, check.limit_key, str(day)):
                        raise refused(check, (day + 1) * DAY_SECONDS - now)
                    continue
                window = RateLimitItemPerSecond(check.amount, check.seconds)
                if not self.moving.hit(window, check.limit_key):
                    reset = self.moving.get_window_stats(window, check.limit_key).reset_time
                    raise refused(check, reset - time.time())
        except self.errors as exc:
            raise _redis_unavailable() from exc

    def wait(self, check: Check, now: float) -> float | None:
        from limits import RateLimitItemPerSecond

        window = RateLimitItemPerSecond(check.amount, check.seconds)
        try:
            if self.moving.test(window, check.limit_key):
                return None
            return max(self.moving.get_window_stats(window, check.limit_key).reset_time - now, 0)
        except self.errors as exc:
            raise _redis_unavailable() from exc


def _redis_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The rate-limit store (Redis) did not answer; retry shortly.")


def policy_from(
    rate_limit: str | None,
    daily_quota: int | None,
    key_rate_limit: str | None,
    key_daily_quota: int | None,
) -> LimitPolicy:
    """Build the policy from the settings' texts (already checked by ``Settings``)."""
    return LimitPolicy(
        rates=parse_rate_limits(rate_limit) if rate_limit else (),
        daily_quota=daily_quota,
        key_rates=parse_rate_limits(key_rate_limit) if key_rate_limit else (),
        key_daily_quota=key_daily_quota,
    )


def counters_for(database: Database, redis_url: str | None, redis_prefix: str) -> Counters:
    """Count in Redis when a URL is given, else in the database."""
    return RedisCounters(redis_url, redis_prefix) if redis_url else DatabaseCounters(database)


class SignInThrottle:
    """Moving-window limits on failed admin sign-ins, per client address.

    ``check`` refuses an address over its limit *before* its token is compared, so a
    guesser cannot tell a right token from a wrong one while refused; only a wrong
    token is counted (``failed``), so the admin's own requests never use up the limit.
    """

    def __init__(self, counters: Counters, rates: tuple[RateLimit, ...]) -> None:
        self.counters = counters
        self.rates = rates

    def _checks(self, address: str | None) -> list[Check]:
        return [
            Check(
                f"sign-in:{address or 'unknown'}:{r.amount}/{r.seconds}",
                r.amount,
                r.seconds,
                False,
                f"{r} with a wrong admin token from this address",
            )
            for r in self.rates
        ]

    def check(self, address: str | None) -> None:
        """Raise TooManyRequests while ``address`` is over a limit."""
        now = time.time()
        for check in self._checks(address):
            wait = self.counters.wait(check, now)
            if wait is not None:
                raise refused(check, wait)

    def failed(self, address: str | None) -> None:
        """Count one wrong token from ``address``."""
        # Full already (a concurrent failure counted first): the next attempt is refused.
        with contextlib.suppress(TooManyRequests):
            self.counters.hit(self._checks(address), time.time())
