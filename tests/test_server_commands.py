"""``roomline serve``, ``demo`` and ``db upgrade`` as a user runs them, plus the demo clock,
health and the OpenAPI document."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from roomline.api.app import serve_app
from tests.conftest import TEST_NOW
from tests.support import DEMO_KEY, Server, roomline, wait_until_ready


def test_db_upgrade_creates_the_schema(database_url: str, tmp_path: Path) -> None:
    result = roomline("db", "upgrade", "--database-url", database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database is up to date"
    engine = create_engine(database_url.replace("postgresql+psycopg", "postgresql+psycopg"))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"spaces", "people", "api_keys", "reservations", "alembic_version"} <= tables
    # Running it again is a no-op.
    assert roomline("db", "upgrade", "--database-url", database_url, cwd=tmp_path).returncode == 0


def test_db_upgrade_reads_the_environment_and_the_option_wins(tmp_path: Path) -> None:
    from_env = tmp_path / "env.db"
    from_option = tmp_path / "option.db"
    env = {"ROOMLINE_DATABASE_URL": f"sqlite:///{from_env}"}
    assert roomline("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert from_env.exists()
    assert (
        roomline(
            "db", "upgrade", "--database-url", f"sqlite:///{from_option}", cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    assert from_option.exists()


def test_serve_defaults_to_roomline_db_in_the_working_directory(tmp_path: Path) -> None:
    from tests.support import free_port

    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "roomline", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process)
        assert (tmp_path / "roomline.db").exists()
        # A normal deployment has no demo key and no demo clock API.
        denied = httpx.post(
            f"http://127.0.0.1:{port}/api/V1/Action/REST_CancelReservation",
            json={"UltimoId": "1"},
            headers={"ApiKey": DEMO_KEY},
        )
        assert (denied.status_code, denied.json()) == (
            401,
            {"message": "Missing API key", "code": "MissingApiKey"},
        )
        assert httpx.get(f"http://127.0.0.1:{port}/api/demo/clock").status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_demo_clock_can_be_read_pinned_and_shifted(server: Server) -> None:
    assert server.client.get("/api/demo/clock").status_code == 401
    assert server.client.get(
        "/api/demo/clock", headers={"Authorization": "Bearer wrong"}
    ).json() == {
        "message": "Send the admin token as 'Authorization: Bearer <token>'.",
        "code": "AdminTokenRequired",
    }
    # The Ultimo API key never opens it.
    assert server.client.get("/api/demo/clock", headers={"ApiKey": DEMO_KEY}).status_code == 401
    assert server.admin("GET", "/api/demo/clock").json() == {
        "now": "2030-01-07T09:00:00Z",
        "pinned": True,
    }
    try:
        pinned = server.admin("PUT", "/api/demo/clock", json={"now": "2030-05-01T12:00:00+02:00"})
        assert pinned.json() == {"now": "2030-05-01T10:00:00Z", "pinned": True}
        shifted = server.admin("PUT", "/api/demo/clock", json={"shift_seconds": 0}).json()
        assert shifted["pinned"] is False
        both = server.admin(
            "PUT", "/api/demo/clock", json={"now": "2030-05-01T12:00:00Z", "shift_seconds": 5}
        )
        assert (both.status_code, both.json()["code"]) == (400, "InvalidParameter")
    finally:
        server.set_clock(TEST_NOW)


def test_admin_token_never_opens_the_workflows(server: Server) -> None:
    response = server.admin("POST", "/api/V1/Action/REST_CancelReservation", json={"UltimoId": "1"})
    assert (response.status_code, response.json()) == (
        401,
        {"message": "Missing API key", "code": "MissingApiKey"},
    )


def test_health_and_openapi(server: Server) -> None:
    assert server.client.get("/healthz").json() == {"status": "ok"}
    document = server.client.get("/openapi.json").json()
    for workflow in (
        "REST_CreateReservation",
        "REST_UpdateReservation",
        "REST_CancelReservation",
        "REST_GetReservationsForSpace",
    ):
        operation = document["paths"][f"/api/V1/Action/{workflow}"]["post"]
        assert {"200", "400", "401"} <= set(operation["responses"])
        assert "example" in operation["requestBody"]["content"]["application/json"]
        assert any(
            p["name"] == "ApplicationElementId" and p["in"] == "header"
            for p in operation["parameters"]
        )
    assert document["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "ApiKey",
        "description": "The 32-hex-digit API key of the caller. This demo's key: "
        "FC1555BA3F5C4C329155B5ADAC2E8AB0 (the documentation's playground key). "
        "Paste it here, then Try it out.",
    }
    docs = server.client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()  # the playground works offline
    assert server.client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_paths_answer_json(server: Server) -> None:
    response = server.client.get("/nowhere")
    assert (response.status_code, response.json()) == (
        404,
        {"message": "No such path.", "code": "NotFound"},
    )


def test_demo_without_database_url_uses_a_temporary_database_and_removes_it(tmp_path: Path) -> None:
    import signal
    import tempfile

    from tests.support import free_port

    before = set(Path(tempfile.gettempdir()).glob("roomline-demo-*"))
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "roomline", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process)
        created = set(Path(tempfile.gettempdir()).glob("roomline-demo-*")) - before
        assert len(created) == 1 and not (tmp_path / "roomline.db").exists()
        window = {"From": "2021-04-20 00:00:00", "Till": "2021-04-21 00:00:00", "SpaceId": "C-25"}
        listed = httpx.post(
            f"http://127.0.0.1:{port}/api/V1/Action/REST_GetReservationsForSpace",
            json=window,
            headers={"ApiKey": DEMO_KEY},
        )
        assert listed.json()["properties"]["Output"]["collection"][0]["UltimoId"] == "00000006710"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not any(path.exists() for path in created)


def test_the_served_app_keeps_start_up_objects_out_of_the_collectors_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Full collections walking start-up's objects paused a loaded server for 60-80 ms.
    monkeypatch.setenv("ROOMLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'frozen.db'}")
    gc.unfreeze()
    try:
        app = serve_app()
        assert gc.get_freeze_count() > 10_000
        app.state.database.dispose()
    finally:
        gc.unfreeze()
