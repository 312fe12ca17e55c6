"""The floor on PostgreSQL: roomline's own SQL for Get and Create through asyncpg, and nothing else.

The same idea as the SQLite floor (bench/floor.py, whose ASGI shell it shares), served by
the same uvicorn on the same seeded database as ``roomline serve``. It runs exactly the
statements of roomline's PostgreSQL hot path (``roomline.storage.pg_hot``), imported
from there, on an asyncpg pool set up as roomline's (its default size, nothing reset when a
connection goes back):

- Get: the API key hashed as roomline hashes it (HMAC-SHA256 of the upper-cased secret
  under the instance's key), then ``_GET``: key, space and window in one round trip; the
  window's rows go out as JSON with the times as the statement formats them.
- Create: ``_CREATE_FACTS`` (key, space, applicant, clock), then ``_INSERT`` (the
  space's turn, the reservation, the log's lock and its entry) through roomline's group
  commit (``pg_hot.WriteGroups``: the inserts queued together share one transaction and
  one WAL flush): two round trips. An insert the exclusion constraint skips answers
  Ultimo's 1015 envelope.

Everything else roomline does is left out, as on SQLite: parameter checks and their
errors, times read in the space's zone, the rules on past and overlong reservations, the
key's workflows and allow-list, limits, request ids and the access log line, ExternalIds
(always empty here), the audit entry's real states, retries of deadlock victims, and the
pool's 503s. ``BENCH_FLOOR_PG_URL`` names the database (roomline's SQLAlchemy URL).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from bench.floor import CONFLICT, created, listing, serve
from roomline.config import Settings
from roomline.domain.reservations import ReservationStatus
from roomline.storage.pg_hot import (
    _CREATE_FACTS,
    _GET,
    _HASH_SECRET,
    _INSERT,
    _KEY_COLUMNS,
    _SPACE_COLUMNS,
    PgPool,
    WriteGroups,
    _keep_session,
    asyncpg_dsn,
)

POOL_SIZE: int = Settings.model_fields["database_pool_size"].default
WAIT_SECONDS: float = Settings.model_fields["database_wait_seconds"].default
PROCESSED = ReservationStatus.PROCESSED.value
WINDOW = _KEY_COLUMNS + _SPACE_COLUMNS  # where a Get's row has its reservations
SPACE = _KEY_COLUMNS  # where a row has its space
# How a new reservation's log entry begins; the number the insert gives follows it.
AFTER_ID = '{"ultimo_id": '


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)  # the bench's spaces are in UTC


class PgFloor:
    """An asyncpg pool and the instance's key for hashing API keys."""

    def __init__(self, pool: asyncpg.Pool, hash_key: bytes, url: str) -> None:
        self.pool = pool
        self.hash_key = hash_key
        # roomline's group commit, on a pool of its own of the same size.
        self.writes = WriteGroups(PgPool(url, POOL_SIZE, WAIT_SECONDS))

    @classmethod
    async def open(cls, url: str) -> PgFloor:
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=0,
            max_size=POOL_SIZE,
            max_inactive_connection_lifetime=60,
            reset=_keep_session,
        )
        rows = await pool.fetch(_HASH_SECRET)
        return cls(pool, bytes.fromhex(rows[0][0]), url)

    def secret_hash(self, secret: bytes) -> str:
        return hmac.new(self.hash_key, secret.upper(), hashlib.sha256).hexdigest()

    async def get(self, values: dict[str, Any], secret: bytes) -> bytes:
        rows = await self.pool.fetch(
            _GET,
            self.secret_hash(secret),
            values["SpaceId"],
            _utc(values["From"]),
            _utc(values["Till"]),
        )
        if rows[0][0] is None:
            raise LookupError("unknown API key")
        return listing(rows[0][WINDOW])

    async def create(self, values: dict[str, Any], secret: bytes) -> tuple[int, bytes]:
        space_id = values["SpaceId"]
        facts = (
            await self.pool.fetch(
                _CREATE_FACTS, self.secret_hash(secret), space_id, values["ApplicantId"], "", None
            )
        )[0]
        key_id = facts[0]
        if key_id is None:
            raise LookupError("unknown API key")
        preparation, cleanup = facts[SPACE + 3], facts[SPACE + 4]
        start, end = _utc(values["StartTime"]), _utc(values["EndTime"])
        now = datetime.now(UTC)
        rows = await self.writes.run(
            _INSERT,
            space_id,
            values["ApplicantId"],
            values.get("Description", ""),
            start,
            end,
            preparation,
            cleanup,
            start - timedelta(minutes=preparation),
            end + timedelta(minutes=cleanup),
            PROCESSED,
            key_id,
            "",  # ExternalId
            None,  # request fingerprint
            now,
            # The log entry: at, action, workflow, key, address, request id, before.
            now,
            "create",
            "REST_CreateReservation",
            "bench",
            None,
            None,
            None,
            space_id,
            # after: the number goes between these two.
            AFTER_ID,
            ", " + orjson.dumps(values).decode()[1:],
        )
        if not rows:  # ON CONFLICT DO NOTHING: the exclusion constraint refused it
            return 400, CONFLICT
        return created(rows[0][0])

    async def close(self) -> None:
        await self.pool.close()
        await self.writes.pool.close()


async def _open() -> PgFloor:
    return await PgFloor.open(os.environ["BENCH_FLOOR_PG_URL"])


app = serve(_open)
