"""The Webhooks page in a real browser: add (the secret shown once), deliveries with their
attempts, ping, replay, a new secret, remove; and the screenshots
docs/screenshots/webhooks.png and webhook-secret.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from tests.api.receiver import Answer, running_receiver
from tests.api.test_webhooks import LOOPBACK_ALLOWED, create, settled
from tests.conftest import TEST_NOW, World
from tests.support import Server, start_server
from tests.web.test_browser import sign_in
from tests.web.test_screenshots import keep_screenshot


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        module_database_url,
        tmp_path_factory.mktemp("logs"),
        "--now",
        TEST_NOW,
        env=LOOPBACK_ALLOWED,
    )
    yield running
    running.stop()


def test_add_follow_ping_replay_and_remove_a_webhook(
    server: Server, world: World, page: Any, tmp_path: Path
) -> None:
    space = world.space(description="Boardroom")
    answers = (Answer(200), Answer(418, body=b"I'm a teapot"), Answer(200), Answer(200))
    with running_receiver(*answers) as receiver:
        sign_in(page, server, "/web/webhooks")
        expect(page.get_by_text("No webhooks yet.")).to_be_visible()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("reservation.updated").check()
        page.get_by_label("Spaces").fill(space.id)
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_role("heading", name="Webhook 1 added")).to_be_visible()
        secret = page.locator("[data-secret]").inner_text()
        assert secret.startswith("whsec_")

        ultimo_id = create(server, space.id, 20)
        [got] = receiver.wait(1)
        event = Webhook(secret).verify(got.body, got.headers)
        assert event["data"]["reservation"]["ultimo_id"] == ultimo_id
        settled(server, 1, 1, "succeeded")

        page.get_by_role("link", name="Deliveries and ping").click()
        row = page.locator("tr[data-delivery='1']")
        expect(row).to_contain_text("reservation.created")
        expect(row).to_contain_text(f"{ultimo_id} in {space.id}")
        expect(row).to_contain_text("succeeded")
        expect(row).to_contain_text("HTTP 200")

        page.get_by_role("button", name="Send a ping now").click()
        expect(page.locator(".flash")).to_contain_text("Ping sent: HTTP 418 in ")
        expect(page.locator("tr[data-delivery='2']")).to_contain_text("I'm a teapot")
        assert json.loads(receiver.wait(2)[1].body)["type"] == "webhook.ping"

        page.locator("tr[data-delivery='1']").get_by_role("button", name="Replay").click()
        expect(page.locator(".flash")).to_contain_text("Delivery 1 is sent again now")
        again = receiver.wait(3)[2]
        assert again.headers["webhook-id"] == got.headers["webhook-id"]
        settled(server, 1, 2)

        # A new secret; the old one also signs for the 12 hours asked for.
        page.get_by_text("Rotate secret…").click()
        page.get_by_label("Keep signing with the current secret for").fill("12")
        page.get_by_role("button", name="Make a new secret").click()
        expect(page.get_by_role("heading", name="Webhook 1: a new secret")).to_be_visible()
        expect(page.locator(".hint")).to_contain_text("Until 2030-01-07T21:00:00+00:00")
        rotated = page.locator("[data-secret]").inner_text()
        assert rotated.startswith("whsec_") and rotated != secret
        page.set_viewport_size({"width": 1280, "height": 560})
        shot = tmp_path / "webhook-secret.png"
        page.screenshot(path=str(shot), full_page=True)
        keep_screenshot(shot)
        create(server, space.id, 21)
        signed_twice = receiver.wait(4)[3]
        for either in (secret, rotated):  # a receiver holding either secret accepts it
            Webhook(either).verify(signed_twice.body, signed_twice.headers)

        page.get_by_role("link", name="Deliveries and ping").click()
        expect(page.locator("dl.facts")).to_contain_text(
            "also signs deliveries until 2030-01-07T21:00:00+00:00"
        )
        settled(server, 1, 3)
        page.reload()
        expect(page.locator("tr[data-delivery='1'] ol.attempts li")).to_have_count(2)
        page.set_viewport_size({"width": 1280, "height": 800})
        shot = tmp_path / "webhooks.png"
        page.screenshot(path=str(shot), full_page=True)
        keep_screenshot(shot)

        page.get_by_text("Only failed").click()
        expect(page.locator("tr[data-delivery]")).to_have_count(1)
        expect(page.locator("tr[data-delivery='2']")).to_contain_text("failed")

        page.get_by_text("Remove…").click()
        page.get_by_role("button", name="Yes, remove webhook 1").click()
        expect(page.locator(".flash")).to_contain_text(f"Webhook 1 to {receiver.url} removed.")
        expect(page.get_by_text("No webhooks yet.")).to_be_visible()


def test_a_refused_webhook_keeps_the_form(server: Server, page: Any) -> None:
    sign_in(page, server, "/web/webhooks")
    page.get_by_label("URL").fill("http://169.254.169.254/latest/meta-data")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator(".error")).to_contain_text("169.254.169.254, which is not allowed")
    expect(page.get_by_label("URL")).to_have_value("http://169.254.169.254/latest/meta-data")
