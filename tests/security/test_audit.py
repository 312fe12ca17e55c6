"""The audit trail through the real server: a create, update and cancel, before and after.

Entries are read back through the management API and the ``roomline audit list``
command, and compared whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import World
from tests.security.helpers import make_key
from tests.support import Server

AT = "2030-01-07T09:00:00Z"  # the test server's pinned clock


def reservation(ultimo_id: int, space: str, person: str, **changes: Any) -> dict[str, Any]:
    return {
        "ultimo_id": ultimo_id,
        "space_id": space,
        "applicant_id": person,
        "description": "Audit me",
        "start": "2030-01-08T09:00:00Z",
        "end": "2030-01-08T10:00:00Z",
        "preparation_minutes": 0,
        "cleanup_minutes": 0,
        "status": "Processed",
        "external_id": "AUDIT-1",
        "series_id": None,
        **changes,
    }


def roomline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomline", *args], capture_output=True, text=True, check=False
    )


def test_audit_trail_records_create_update_and_cancel(server: Server, world: World) -> None:
    space, person = world.space(), world.person()
    key_name, secret = make_key(server.database_url, name=f"audit-panel-{space.id}")
    create = {
        "ExternalId": "AUDIT-1",
        "Description": "Audit me",
        "SpaceId": space.id,
        "StartTime": "2030-01-08 10:00:00",  # Amsterdam wall-clock: 09:00Z
        "EndTime": "2030-01-08 11:00:00",
        "ApplicantId": person.id,
    }

    def call(workflow: str, body: dict[str, str], request_id: str) -> Any:
        response = server.call(workflow, body, key=secret, headers={"X-Request-Id": request_id})
        return response.status_code, response.json()

    status, created = call("REST_CreateReservation", create, f"create-{space.id}")
    assert status == 200
    ultimo_id = created["Properties"]["UltimoId"]
    number = int(ultimo_id)
    # Writes that change nothing or are refused record nothing.
    assert call("REST_CreateReservation", create, "repeat")[0] == 200
    clash = {**create, "ExternalId": "AUDIT-2"}
    assert call("REST_CreateReservation", clash, "clash")[1]["code"] == "1015"
    update = {"UltimoId": ultimo_id, "EndTime": "2030-01-08 11:30:00"}
    assert call("REST_UpdateReservation", update, f"update-{space.id}") == (200, {"properties": {}})
    cancel = {"UltimoId": ultimo_id}
    assert call("REST_CancelReservation", cancel, f"cancel-{space.id}") == (200, {"properties": {}})
    assert call("REST_CancelReservation", cancel, "again") == (200, {"properties": {}})

    made = reservation(number, space.id, person.id)
    moved = {**made, "end": "2030-01-08T10:30:00Z"}
    cancelled = {**moved, "status": "Cancelled"}
    common = {"ultimo_id": ultimo_id, "key_name": key_name, "client_address": "127.0.0.1"}
    expected = [
        {
            **common,
            "at": AT,
            "action": action,
            "workflow": workflow,
            "request_id": f"{action}-{space.id}",
            "before": before,
            "after": after,
        }
        for action, workflow, before, after in (
            ("create", "REST_CreateReservation", None, made),
            ("update", "REST_UpdateReservation", made, moved),
            ("cancel", "REST_CancelReservation", moved, cancelled),
        )
    ]

    response = server.admin("GET", "/api/manage/audit", params={"ultimo_id": ultimo_id})
    assert response.status_code == 200
    entries = response.json()
    ids = [entry.pop("id") for entry in entries]
    assert entries == expected
    assert ids == sorted(ids)

    by_key = server.admin("GET", "/api/manage/audit", params={"key": key_name}).json()
    assert [entry["id"] for entry in by_key] == ids

    listed = roomline(
        "audit", "list", "--json", "--ultimo-id", str(number), "--database-url", server.database_url
    )
    assert listed.returncode == 0, listed.stderr
    from_cli = json.loads(listed.stdout)
    assert [entry.pop("id") for entry in from_cli] == ids
    assert from_cli == expected

    table = roomline("audit", "list", "--key", key_name, "--database-url", server.database_url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["AT", "ACTION", "ULTIMO", "ID", "KEY", "CLIENT", "CHANGE"]
    assert [line.split()[1] for line in lines[1:]] == ["create", "update", "cancel"]
    assert lines[2].endswith("end: 2030-01-08T10:00:00Z -> 2030-01-08T10:30:00Z")
    assert lines[3].endswith("status: Processed -> Cancelled")

    later = roomline(
        "audit", "list", "--json", "--since", "2030-01-07T09:00:01Z", "--key", key_name,
        "--database-url", server.database_url,
    )  # fmt: skip
    assert json.loads(later.stdout) == []


def test_audit_trail_is_for_the_admin_token_only(server: Server) -> None:
    anonymous = server.client.get("/api/manage/audit")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "AdminTokenRequired"
    with_api_key = server.client.get("/api/manage/audit", headers={"ApiKey": "0" * 32})
    assert with_api_key.status_code == 401


def test_audit_filters_are_checked(server: Server) -> None:
    response = server.admin("GET", "/api/manage/audit", params={"since": "yesterday"})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidDateTime"
    response = server.admin("GET", "/api/manage/audit", params={"ultimo_id": "12a"})
    assert (response.status_code, response.json()) == (
        400,
        {
            "message": "UltimoId '12a' is not a number of up to 11 digits.",
            "code": "InvalidParameter",
        },
    )
    failed = roomline("audit", "list", "--ultimo-id", "x", "--database-url", server.database_url)
    assert (failed.returncode, failed.stderr.strip()) == (
        1,
        "error: UltimoId 'x' is not a number of up to 11 digits.",
    )


def test_after_id_beyond_the_largest_id_is_refused(server: Server) -> None:
    # 2**63 does not fit the 64-bit ids of either database (SQLite could not even bind it).
    response = server.admin("GET", "/api/manage/audit", params={"after_id": str(2**63)})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert (
        "query.after_id: Input should be less than or equal to 9223372036854775807"
        in (response.json()["message"])
    )
    largest = server.admin("GET", "/api/manage/audit", params={"after_id": str(2**63 - 1)})
    assert (largest.status_code, largest.json()) == (200, [])
