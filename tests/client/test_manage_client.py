"""``ManageClient`` and ``AsyncManageClient`` against a real server, on both databases:
webhook subscriptions, calendar feeds and the utilisation report, answered as the API
answers them. Ping and replay, which need a receiver, are in tests/api/test_webhooks.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from roomline.client import AsyncManageClient, ManageClient, UltimoError, Unauthorized
from tests.conftest import World
from tests.support import ADMIN_TOKEN, Server

# TEST-NET-3: an address the default ROOMLINE_WEBHOOK_ALLOWED_NETWORKS allows; nothing is
# sent to it, as no reservation is made in the subscribed space.
HOOK_URL = "https://203.0.113.10/rooms"


class AsyncManageAsSync:
    """Drive AsyncManageClient with the sync client's calls, one event loop per call."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            async def run() -> Any:
                async with AsyncManageClient(*self.args) as client:
                    return await getattr(client, name)(*args, **kwargs)

            return asyncio.run(run())

        return call


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest, server: Server) -> Any:
    def make(token: str = ADMIN_TOKEN) -> Any:
        if request.param == "sync":
            client = ManageClient(server.base_url, token)
            request.addfinalizer(client.close)
            return client
        return AsyncManageAsSync(server.base_url, token)

    return make


def test_webhook_subscriptions(connect: Any, world: World) -> None:
    admin = connect()
    space = world.space()
    added = admin.add_webhook(HOOK_URL, ["reservation.created"], spaces=[space.id])
    assert added["secret"].startswith("whsec_")
    [listed] = [hook for hook in admin.list_webhooks() if hook["id"] == added["id"]]
    assert "secret" not in listed
    assert (listed["url"], listed["events"], listed["spaces"], listed["status"]) == (
        HOOK_URL,
        ["reservation.created"],
        [space.id],
        "active",
    )
    assert admin.webhook_deliveries(added["id"]) == []
    assert admin.webhook_deliveries(added["id"], failed=True, limit=5) == []
    rotated = admin.rotate_webhook_secret(added["id"], keep_previous_hours=3)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != added["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    with pytest.raises(UltimoError) as too_long:
        admin.rotate_webhook_secret(added["id"], keep_previous_hours=500)
    assert (too_long.value.code, too_long.value.status_code) == ("InvalidParameter", 400)
    assert admin.remove_webhook(added["id"])["id"] == added["id"]
    assert all(hook["id"] != added["id"] for hook in admin.list_webhooks())
    with pytest.raises(UltimoError) as missing:
        admin.remove_webhook(added["id"])
    assert (missing.value.code, missing.value.status_code) == ("RecordNotFound", 404)
    with pytest.raises(UltimoError) as refused:
        admin.add_webhook("http://127.0.0.1:9/loop", ["reservation.created"])
    assert refused.value.status_code == 400


def test_calendar_feeds(connect: Any, world: World, server: Server) -> None:
    admin = connect()
    space = world.space()
    created = admin.create_feed(space_id=space.id, name="lobby")
    assert created["url"].endswith(created["path"])
    assert server.client.get(created["path"]).headers["content-type"].startswith("text/calendar")
    [listed] = admin.list_feeds(space_id=space.id)
    assert (listed["id"], listed["name"], listed["status"]) == (created["id"], "lobby", "active")
    assert "token" not in listed
    assert admin.revoke_feed(created["id"])["status"] == "revoked"
    assert server.client.get(created["path"]).status_code == 404
    with pytest.raises(UltimoError) as neither:
        admin.create_feed()
    assert neither.value.status_code == 400


def test_the_utilisation_report_as_json_and_csv(connect: Any, world: World, server: Server) -> None:
    admin = connect()
    space = world.space()
    world.reservation(
        space, datetime(2030, 1, 8, 9, tzinfo=UTC), datetime(2030, 1, 8, 11, tzinfo=UTC)
    )
    report = admin.utilisation_report("2030-01-07", "2030-01-14")
    [row] = [row for row in report["rows"] if row["space"] == space.id]
    assert (row["reservations"], row["booked_hours"]) == (1, 2.0)
    query = {"from": "2030-01-07", "till": "2030-01-14", "group": "building"}
    by_building = server.admin("GET", "/api/manage/reports/utilisation", params=query)
    assert admin.utilisation_report("2030-01-07", "2030-01-14", group="building") == (
        by_building.json()
    )
    as_csv = server.admin(
        "GET", "/api/manage/reports/utilisation", params={**query, "format": "csv"}
    )
    assert admin.utilisation_csv("2030-01-07", "2030-01-14", group="building") == as_csv.text
    with pytest.raises(UltimoError) as backwards:
        admin.utilisation_report("2030-01-14", "2030-01-07")
    assert (backwards.value.code, backwards.value.status_code) == ("InvalidParameter", 400)


def test_a_wrong_token_is_refused(connect: Any) -> None:
    with pytest.raises(Unauthorized):
        connect("not-the-token").list_feeds()
