"""roomline's own API under ``/api/booking`` (SPEC §7), for systems holding an API key.

What every operation here shares, so each feature adds only its routes:

- **Keys and grants.** The same ``ApiKey`` header and keys as the Ultimo workflows,
  checked the same way (unknown, revoked → 401 ``MissingApiKey``; the key's IP
  allow-list → 403 ``AddressNotAllowed``), then the operation's grant (``series``,
  ``find``, … or an Ultimo workflow such as ``get``) → 403 ``WorkflowNotAllowed``, then
  the request limits (429). ``grant(name)`` is that check as a route dependency.
- **Shapes.** JSON with snake_case names; times in answers in the space's zone with its
  offset (``domain.times.format_iso``), in requests with an offset or ``Z``, or wall
  clock in the space's zone. Errors answer ``{"message", "code"}`` and ``details``
  where a list helps (``api/errors.py``).
- **One tag** in OpenAPI, "Booking".

Routes are thin: read the request, call a service, shape the answer.
"""

from __future__ import annotations

from fastapi import APIRouter

from roomline.api.booking import changes, find, reservations, series
from roomline.api.booking.access import Caller, grant

PREFIX = "/api/booking"
TAG = "Booking"
TAG_DESCRIPTION = (
    "roomline's own API beyond Ultimo's four workflows: JSON with snake_case names, the "
    "same `ApiKey` header and keys, each operation behind a grant of the key "
    '(`roomline keys create --workflows ...`). Errors answer `{"message", "code"}` '
    "plus `details` where a list helps."
)

__all__ = ["PREFIX", "TAG", "Caller", "build_router", "grant"]


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=[TAG])
    for part in (reservations, series):
        router.include_router(part.router)
    # Finding a room (issue 17): free spaces, schedules, suggestions.
    router.include_router(find.router)
    # Told, not polled (issue 15): the log of changes as a feed and a stream.
    router.include_router(changes.router)
    return router
