"""The demo's Swagger UI: the Authorize dialog names the key, a first "Try it out" works,
and the stand-in's controls are under their own tag. SQLite only, as the screenshots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.support import DEMO_KEY, start_server
from tests.web.test_screenshots import DOCS


def test_the_authorize_dialog_names_the_demo_key(chromium: Any, tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'swagger.db'}", tmp_path)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(f"{server.base_url}/docs")
        expect(page.locator("h3#operations-tag-Stand-in")).to_be_visible()
        page.get_by_role("button", name="Authorize").first.click()
        dialog = page.locator(".modal-ux")
        expect(dialog).to_contain_text(f"This demo's key: {DEMO_KEY}")
        page.screenshot(path=str(tmp_path / "swagger-authorize.png"))
        dialog.locator("input").first.fill(DEMO_KEY)  # the ApiKey scheme comes first
        dialog.locator("button.authorize").first.click()
        expect(dialog.locator("button.btn-done").first).to_be_visible()
        dialog.locator("button.btn-done").first.click()

        path = "/api/V1/Action/REST_GetReservationsForSpace"
        operation = page.locator(".opblock").filter(has_text=path).first
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
        status = operation.locator(".live-responses-table .response .response-col_status")
        expect(status.first).to_have_text("200")
        if os.environ.get("ROOMLINE_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(tmp_path / "swagger-authorize.png", DOCS / "swagger-authorize.png")
    finally:
        context.close()
        server.stop()
