"""The floor: the least a Python app can do to answer Get and Create for real.

The ceiling (bench/ceiling.py) answers a constant; roomline does everything the contract
asks. The floor sits between them: served by the same uvicorn with the same settings,
against the same seeded SQLite database, it runs roomline's own SQL for each request and
nothing more:

- Get: the API key's row (looked up by its HMAC, as roomline stores keys), the space's
  row and the window's rows, in one read transaction; the times go out as stored (UTC
  text) in a JSON body.
- Create: the key's row, then, in a write transaction under the database's own
  no-overlap triggers and ``synchronous=FULL``: the space, the person, the conflict check,
  the insert and an audit row. A conflict answers Ultimo's 1015 envelope. It uses the
  cheapest design we know: every statement runs on the event loop, one writer task runs
  all queued creates in one transaction (each in a SAVEPOINT), and only what waits goes
  to a thread: ``BEGIN IMMEDIATE`` (which with several workers waits for another
  process's write lock, as roomline's group commit does it) and the COMMIT (the fsync).

Everything else roomline does is left out: checking the parameters and their errors,
times read and written in the space's zone, the rules on past and too-long
reservations, the key's workflows and IP allow-list, request limits, request ids and the
access log line, idempotent ExternalIds, the audit entry's states. So its share of the
ceiling is about the most any implementation of the contract on this stack (uvicorn,
asyncio, Python's sqlite3) can reach. ``python -m bench --floor`` serves it; it is not
part of roomline. ``BENCH_FLOOR_DATABASE`` names the SQLite file.

The ASGI shell around a floor (``serve``: lifespan, body, key header, the two paths) is
shared with the PostgreSQL floor (bench/floor_pg.py), so the two differ only in their SQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from roomline.storage import audit, keys, masterdata, reservations
from roomline.storage.database import configure_sqlite_connection
from roomline.storage.direct import DirectStatement
from roomline.storage.hotpath import STORED_WINDOW

# roomline's own prebuilt statements, private to their modules: the floor runs their SQL.
ACTIVE_KEY = keys._ACTIVE_BY_HASH
SPACE = masterdata.SPACE_BY_ID
PERSON = masterdata.PERSON_BY_ID
CONFLICT_CHECK = reservations._FIRST_CONFLICT
INSERT = reservations._INSERT
AUDIT = audit._INSERT

GET = "/api/V1/Action/REST_GetReservationsForSpace"
CREATE = "/api/V1/Action/REST_CreateReservation"
JSON = (b"content-type", b"application/json")
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"
CONFLICT = orjson.dumps({"message": "Space not available", "type": "Error", "code": "1015"})


def _run(conn: sqlite3.Connection, statement: DirectStatement, **values: Any) -> sqlite3.Cursor:
    return conn.execute(statement.sql, {**statement.literals, **values})


def _connect(path: str) -> sqlite3.Connection:
    # autocommit: the floor issues BEGIN, SAVEPOINT and COMMIT itself.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    configure_sqlite_connection(conn)  # WAL, synchronous=FULL, foreign keys
    return conn


def listing(rows: Iterable[Sequence[Any]]) -> bytes:
    """A Get's answer from the window's rows (UltimoId, description, applicant's id and
    name, the four times as stored text, status), as roomline writes it."""
    collection = [
        {
            "UltimoId": str(row[0]),
            "Description": row[1],
            "ApplicantId": row[2],
            "ApplicantName": row[3],
            "StartTime": row[4],
            "EndTime": row[5],
            "BlockStart": row[6],
            "BlockEnd": row[7],
            "Status": row[8],
        }
        for row in rows
    ]
    return orjson.dumps({"properties": {"Output": {"collection": collection}}})


def created(ultimo_id: int) -> tuple[int, bytes]:
    return 200, orjson.dumps({"properties": {"UltimoId": str(ultimo_id)}})


class Floor:
    """A connection for reads, one for the writer, and the creates waiting for it."""

    def __init__(self, path: str) -> None:
        self.reads = _connect(path)
        self.conn = _connect(path)  # the writer's: its COMMIT runs in a thread
        row = self.reads.execute(
            "SELECT value FROM instance_secrets WHERE name = ?", (keys.KEY_HASH_SECRET,)
        ).fetchone()
        self.hash_key = bytes.fromhex(row[0])
        self.queue: list[tuple[dict[str, Any], int, asyncio.Future[tuple[int, bytes]]]] = []
        self.queued: asyncio.Event | None = None

    def key_id(self, secret: bytes) -> int:
        digest = hmac.new(self.hash_key, secret.upper(), hashlib.sha256).hexdigest()
        return int(_run(self.reads, ACTIVE_KEY, secret_hash=digest).fetchone()[0])

    async def get(self, values: dict[str, Any], secret: bytes) -> bytes:
        self.reads.execute("BEGIN")
        try:
            self.key_id(secret)
            _run(self.reads, SPACE, id=values["SpaceId"]).fetchone()
            rows = _run(
                self.reads,
                STORED_WINDOW,
                space_id=values["SpaceId"],
                start=values["From"] + ".000000",  # the bench sends whole seconds
                end=values["Till"] + ".000000",
            ).fetchall()
        finally:
            self.reads.execute("COMMIT")
        return listing(rows)

    async def create(self, values: dict[str, Any], secret: bytes) -> tuple[int, bytes]:
        key_id = self.key_id(secret)
        if self.queued is None:
            self.queued = asyncio.Event()
            asyncio.get_running_loop().create_task(self._writer(self.queued))
        answer: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.queue.append((values, key_id, answer))
        self.queued.set()
        return await answer

    async def _writer(self, queued: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await queued.wait()
            await loop.run_in_executor(None, self.conn.execute, "BEGIN IMMEDIATE")
            # Creates queued while the lock was awaited join this transaction.
            queued.clear()
            batch, self.queue = self.queue, []
            answers = [self._insert(values, key_id) for values, key_id, _ in batch]
            await loop.run_in_executor(None, self.conn.execute, "COMMIT")
            for (_, _, future), answer in zip(batch, answers, strict=True):
                future.set_result(answer)

    def _insert(self, values: dict[str, Any], key_id: int) -> tuple[int, bytes]:
        conn = self.conn
        conn.execute("SAVEPOINT floor")
        space = _run(conn, SPACE, id=values["SpaceId"]).fetchone()
        person = _run(conn, PERSON, id=values["ApplicantId"]).fetchone()
        start = datetime.fromisoformat(values["StartTime"])  # the bench's spaces are in UTC
        end = datetime.fromisoformat(values["EndTime"])
        blocked_start = (start - timedelta(minutes=space[3])).strftime(STORED_TIME)
        blocked_end = (end + timedelta(minutes=space[4])).strftime(STORED_TIME)
        conflict = _run(
            conn,
            CONFLICT_CHECK,
            space_id=space[0],
            start=blocked_start,
            end=blocked_end,
        ).fetchone()
        if conflict is not None:
            conn.execute("RELEASE floor")
            return 400, CONFLICT
        now = datetime.now(UTC).strftime(STORED_TIME)
        ultimo_id = _run(
            conn,
            INSERT,
            space_id=space[0],
            applicant_id=person[0],
            description=values.get("Description", ""),
            start_time=start.strftime(STORED_TIME),
            end_time=end.strftime(STORED_TIME),
            preparation_minutes=space[3],
            cleanup_minutes=space[4],
            blocked_start=blocked_start,
            blocked_end=blocked_end,
            status="Processed",
            api_key_id=key_id,
            external_id="",
            request_fingerprint=None,
            created_at=now,
            updated_at=now,
            series_id=None,
        ).fetchone()[0]
        _run(
            conn,
            AUDIT,
            at=now,
            action="create",
            workflow="REST_CreateReservation",
            ultimo_id=ultimo_id,
            key_name="bench",
            client_address=None,
            request_id=None,
            before_state=None,
            after_state=orjson.dumps(values).decode(),
            space_id=space[0],
        )
        conn.execute("RELEASE floor")
        return created(ultimo_id)

    async def close(self) -> None:
        self.reads.close()
        self.conn.close()


class Answers(Protocol):
    """What a floor answers; ``serve`` makes it an ASGI app."""

    async def get(self, values: dict[str, Any], secret: bytes) -> bytes: ...

    async def create(self, values: dict[str, Any], secret: bytes) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def serve(open_floor: Callable[[], Awaitable[Answers]]) -> ASGIApp:
    """The ASGI app answering Get and Create with the floor ``open_floor`` gives at
    start-up (in each worker process), and 200 ``{}`` on any other path (readiness)."""
    floor: Answers | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal floor
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    floor = await open_floor()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if floor is not None:
                        await floor.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert floor is not None
        body = b""
        more_body = True
        while more_body:
            message = await receive()
            body += message.get("body", b"")
            more_body = message.get("more_body", False)
        secret = next((value for name, value in scope["headers"] if name == b"apikey"), b"")
        status = 200
        if scope["path"] == GET:
            answer = await floor.get(orjson.loads(body), secret)
        elif scope["path"] == CREATE:
            status, answer = await floor.create(orjson.loads(body), secret)
        else:  # readiness probe
            answer = b"{}"
        headers = [JSON, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


async def _open() -> Floor:
    return Floor(os.environ["BENCH_FLOOR_DATABASE"])


app = serve(_open)
