"""Fixtures for the web view: signed-in HTTP clients and a headless Chromium.

Browser tests drive Debian's Chromium (``/usr/bin/chromium``) through Playwright; the
Playwright browser download is not used. Without Chromium they skip, except under CI
(``CI`` set), where ``.ci/run`` installs it and its absence is a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_TOKEN, Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """Return the CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


class WebClient:
    """An HTTP client for the web view that signs in like a browser does."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=False)

    def sign_in(self, token: str = ADMIN_TOKEN) -> httpx.Response:
        form = self.http.get("/web/login")
        return self.http.post(
            "/web/login",
            data={"csrf_token": csrf_from(form.text), "token": token, "next": "/web/"},
        )

    def csrf(self, page: str = "/web/spaces") -> str:
        return csrf_from(self.http.get(page).text)

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        """POST a form, with the session's CSRF token unless ``csrf`` is False."""
        sent = {"csrf_token": self.csrf(), **data} if csrf else data
        return self.http.post(path, data=sent)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def anonymous(server: Server) -> Iterator[WebClient]:
    client = WebClient(server)
    yield client
    client.close()


@pytest.fixture
def web(server: Server) -> Iterator[WebClient]:
    """A client signed in with the admin token."""
    client = WebClient(server)
    response = client.sign_in()
    assert response.status_code == 303, response.text
    yield client
    client.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium, shared by one module's browser tests.

    Module scope, not session: Playwright's sync API keeps an asyncio loop running in the
    main thread while it is open, which would break every later test that calls
    ``asyncio.run`` (the client, race and limit tests).
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs the chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies, no localStorage) at wall-screen size."""
    context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
