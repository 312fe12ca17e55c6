"""The admin token that opens the management and demo APIs (never an Ultimo API key)."""

from __future__ import annotations

import hmac

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from roomline.domain.errors import AdminTokenRequired

bearer = HTTPBearer(auto_error=False, description="The admin token from the configuration.")


def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
) -> None:
    """Refuse the request unless it carries ``Authorization: Bearer <admin token>``."""
    expected = request.app.state.settings.admin_token
    # An empty token would match a request without one: treat it as "not configured".
    if expected is None or not expected.get_secret_value().strip():
        raise AdminTokenRequired(
            "The management API is disabled: no admin token is configured "
            "(set ROOMLINE_ADMIN_TOKEN)."
        )
    given = "" if credentials is None else credentials.credentials
    if not is_admin_token(expected, given):
        raise AdminTokenRequired("Send the admin token as 'Authorization: Bearer <token>'.")


def is_admin_token(expected: SecretStr | None, given: str | None) -> bool:
    """Return whether ``given`` is the configured admin token (compared in constant time)."""
    if expected is None or not expected.get_secret_value().strip() or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())
