"""The client's exceptions: one tree under ``UltimoError``, matching what the server says.

::

    UltimoError                 any refusal: .code, .message, .status_code, .body, .details
    ├── SpaceNotAvailable       code 1015: the space is taken over that time
    ├── ReservationInPast       code 1166: the reservation has ended
    ├── Unauthorized            401: missing, unknown or revoked API key
    ├── RateLimited             429, after the retries: .retry_after (seconds or None)
    ├── ConnectionFailed        no answer (refused, timed out, cut), after the retries
    ├── InvalidResponse         a 200 whose body is not what the workflow answers
    └── InvalidWebhook          verify_webhook: bad signature, too old or new (webhooks.py)
"""

from __future__ import annotations

import re
from typing import Any

_CAUSE = re.compile(r"Cause: (?P<space>.*) is not available\.", re.DOTALL)


class UltimoError(Exception):
    """A refusal by the server (or no usable answer); ``code`` is the server's code."""

    def __init__(
        self, code: str, message: str, status_code: int | None = None, body: Any = None
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.body = body

    @property
    def details(self) -> list[Any]:
        """roomline's own API: each part of the request that failed (``details``), if any."""
        found = self.body.get("details") if isinstance(self.body, dict) else None
        return found if isinstance(found, list) else []


class SpaceNotAvailable(UltimoError):
    """1015: another reservation (with its preparation and cleanup) overlaps."""

    @property
    def space_description(self) -> str | None:
        """The space as the message names it ("... Cause: {space} is not available.")."""
        match = _CAUSE.search(self.message)
        return None if match is None else match["space"]


class ReservationInPast(UltimoError):
    """1166: the reservation has ended, so it can no longer be changed or cancelled."""


class Unauthorized(UltimoError):
    """401: the API key is missing, unknown or revoked (the server does not say which)."""


class RateLimited(UltimoError):
    """429: too many requests; ``retry_after`` is the server's Retry-After in seconds."""

    def __init__(
        self,
        code: str,
        message: str,
        status_code: int | None = 429,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, status_code, body)
        self.retry_after = retry_after


class ConnectionFailed(UltimoError):
    """The server could not be reached or did not answer in time, after the retries."""


class InvalidResponse(UltimoError):
    """A successful status with a body the workflow does not answer (wrong server?)."""
