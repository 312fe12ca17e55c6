"""The admin token: the one check of it, for every surface it opens.

It opens the management API (``/api/manage``), the demo API (``/api/demo``) and the web
view's sign-in; never the Ultimo workflows, and an Ultimo API key never opens these.
``AdminAccess.verify`` is that check: a missing token (``Settings`` makes an empty or
blank one missing) disables everything; an address that sent too many wrong tokens is
refused (429) before its token is compared; a wrong token is counted against it.

``AdminGate`` runs it in front of the app for the API prefixes, before any route reads
a body: a request without the token is answered 401 without its body being read. The
routes' ``require_admin`` dependency only confirms that the gate let the request through,
so a route mounted outside the gate's prefixes fails closed (and OpenAPI documents the
bearer scheme).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from roomline.api.errors import error_response
from roomline.api.observability import request_info
from roomline.domain.errors import AdminTokenRequired, RoomlineError
from roomline.services.limits import SignInThrottle

bearer = HTTPBearer(auto_error=False, description="The admin token from the configuration.")
ADMITTED = "roomline.admin"  # scope key the gate sets on a request it let through
DISABLED = (
    "The management API is disabled: no admin token is configured (set ROOMLINE_ADMIN_TOKEN)."
)
WRONG = "Send the admin token as 'Authorization: Bearer <token>'."


class AdminAccess:
    """Checks a given admin token, throttling wrong ones per client address."""

    def __init__(self, token: SecretStr | None, throttle: SignInThrottle) -> None:
        self._token = None if token is None else token.get_secret_value().encode()
        self.throttle = throttle

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def verify(self, given: str | None, address: str | None) -> None:
        """Return if ``given`` is the admin token; else raise AdminTokenRequired (401) or,
        for an address over its limit of wrong tokens, TooManyRequests (429).

        Blocking (the counters live in the database or Redis): run it in a thread.
        """
        if self._token is None:
            raise AdminTokenRequired(DISABLED)
        if given is None:
            raise AdminTokenRequired(WRONG)  # no guess: nothing to count
        self.throttle.check(address)
        if not hmac.compare_digest(given.encode(), self._token):
            self.throttle.failed(address)
            raise AdminTokenRequired(WRONG)


class AdminGate:
    """ASGI middleware: only requests with the admin token reach paths under ``prefixes``."""

    def __init__(self, app: ASGIApp, access: AdminAccess, prefixes: Sequence[str]) -> None:
        self.app = app
        self.access = access
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guards(scope["path"]):
            given = bearer_token(scope["headers"])
            address = request_info(scope).client_address
            try:
                await run_in_threadpool(self.access.verify, given, address)
            except RoomlineError as exc:
                await error_response(exc, scope["path"])(scope, receive, send)
                return
            scope[ADMITTED] = True
        await self.app(scope, receive, send)

    def _guards(self, path: str) -> bool:
        # One C-level test for the common case (a path under none of them).
        if not path.startswith(self.prefixes):
            return False
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Return the token of ``Authorization: Bearer <token>``, or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
) -> None:
    """Refuse the request unless ``AdminGate`` let it through with the admin token."""
    if request.scope.get(ADMITTED) is not True:
        raise AdminTokenRequired(WRONG)


def is_admin_token(expected: SecretStr | None, given: str | None) -> bool:
    """Return whether ``given`` is the configured admin token (compared in constant time)."""
    if expected is None or not expected.get_secret_value().strip() or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())
