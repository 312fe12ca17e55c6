"""The stand-in's use cases: faults to inject, the journal of requests, and reset.

All state lives in the demo database (``storage/standin.py``), so every worker of a
demo sees the same faults, counts their firings together and writes one journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from roomline.domain.errors import InvalidParameter, RecordNotFound
from roomline.services.keys import WORKFLOWS
from roomline.storage import standin as store
from roomline.storage.database import Database

ANY_WORKFLOW = "*"
MAX_DELAY_MS = 120_000
_CANONICAL = {name.lower(): name for name in WORKFLOWS}


@dataclass(frozen=True)
class Fault:
    """What to do to the next ``times`` requests of ``workflow`` (None: until removed)."""

    id: int
    workflow: str
    status: int | None
    body: Any
    retry_after: int | None
    delay_ms: int
    drop: bool
    times: int | None
    match: dict[str, Any] | None
    fired: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def replaces_answer(self) -> bool:
        """Whether the request goes unanswered or gets the fault's answer (and so changes
        nothing); a delay alone only holds back the normal answer."""
        return self.drop or self.status is not None


def _fault(row: tuple[int, str, dict[str, Any], int | None, int]) -> Fault:
    fault_id, workflow, spec, times, fired = row
    return Fault(id=fault_id, workflow=workflow, times=times, fired=fired, **spec)


def workflow_named(name: str) -> str:
    """Return the canonical workflow name for ``name`` (any casing), or ``*``."""
    if name == ANY_WORKFLOW:
        return name
    canonical = _CANONICAL.get(name.lower())
    if canonical is None:
        raise InvalidParameter(
            f"workflow {name[:100]!r} is not one of {', '.join(WORKFLOWS)}, nor '*' for all."
        )
    return canonical


def add_fault(
    database: Database,
    *,
    workflow: str,
    status: int | None = None,
    body: Any = None,
    retry_after: int | None = None,
    delay_ms: int = 0,
    drop: bool = False,
    times: int | None = None,
    match: Mapping[str, Any] | None = None,
) -> Fault:
    """Arm a fault; refuse one that would do nothing or contradicts itself."""
    workflow = workflow_named(workflow)
    if drop and (status is not None or body is not None):
        raise InvalidParameter("A dropped request gets no answer: give 'drop' or 'status'.")
    if body is not None and status is None:
        raise InvalidParameter("Give the 'status' to answer the 'body' with.")
    if retry_after is not None and status is None:
        raise InvalidParameter("'retry_after' goes with a 'status' (429 or 503).")
    if status is None and not drop and delay_ms == 0:
        raise InvalidParameter("The fault does nothing: give 'status', 'delay_ms' or 'drop'.")
    spec = {
        "status": status,
        "body": body,
        "retry_after": retry_after,
        "delay_ms": delay_ms,
        "drop": drop,
        "match": dict(match) if match is not None else None,
    }
    with database.write() as conn:
        fault_id = store.add_fault(conn, workflow, spec, times)
    return Fault(id=fault_id, workflow=workflow, times=times, fired=0, **spec)


def list_faults(database: Database) -> list[Fault]:
    with database.read() as conn:
        return [_fault(row) for row in store.list_faults(conn)]


def remove_fault(database: Database, fault_id: int) -> None:
    with database.write() as conn:
        if not store.remove_fault(conn, fault_id):
            raise RecordNotFound(f"There is no fault {fault_id}.")


def remove_all_faults(database: Database) -> None:
    with database.write() as conn:
        store.remove_all_faults(conn)


def fire_fault(database: Database, workflow: str, raw_body: bytes | None) -> Fault | None:
    """Return the oldest armed fault that matches this request, counted as fired once.

    Faults are read first and claimed one by one: another worker may take a fault's
    last firing in between, and then the next matching fault (if any) fires instead.
    """
    with database.read() as conn:
        armed = [_fault(row) for row in store.armed_faults(conn, workflow)]
    candidates = [fault for fault in armed if body_matches(fault.match, raw_body)]
    if not candidates:
        return None
    with database.write() as conn:
        for fault in candidates:
            if store.claim_fault(conn, fault.id):
                return Fault(**{**asdict(fault), "fired": fault.fired + 1})
    return None


def body_matches(match: Mapping[str, Any] | None, raw_body: bytes | None) -> bool:
    """Whether the JSON body has every property of ``match`` (names in any casing, as
    Ultimo reads them) with an equal value."""
    if not match:
        return True
    if raw_body is None:
        return False
    try:
        body = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(body, dict):
        return False
    by_name = {str(name).lower(): value for name, value in body.items()}
    return all(
        name.lower() in by_name and by_name[name.lower()] == value for name, value in match.items()
    )


def record(database: Database, workflow: str, entry: dict[str, Any]) -> None:
    with database.write() as conn:
        store.record(conn, workflow, entry)


def journal(database: Database, workflow: str | None, limit: int) -> list[dict[str, Any]]:
    with database.read() as conn:
        return store.entries(conn, workflow, limit)


def clear_journal(database: Database) -> None:
    with database.write() as conn:
        store.clear_journal(conn)


def reset_count(database: Database) -> int:
    """How often the demo was reset since it started."""
    with database.read() as conn:
        return store.reset_count(conn)


def reset(database: Database) -> None:
    """Bring data, numbering and clock back to how the demo started; no faults, no journal."""
    with database.write() as conn:
        store.restore_snapshot(conn)


def prepare(database: Database) -> None:
    """At the demo's start, once its data is in place: fresh stand-in tables and a
    snapshot of the data for ``reset``."""
    store.create_tables(database)
    with database.write() as conn:
        store.take_snapshot(conn)
