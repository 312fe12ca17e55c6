"""HTTP statuses for roomline's errors, and the JSON answers of the non-Ultimo API.

The Ultimo router builds its own bodies (``compat/ultimo/bodies.py``) but takes its
statuses from here, so one table decides every status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from roomline.compat.ultimo import bodies
from roomline.domain import errors

log = logging.getLogger("roomline")

WIRE_PREFIX = "/api/v1/action/"

STATUS: dict[type[errors.RoomlineError], int] = {
    errors.InvalidRequest: 400,
    errors.UnsupportedMediaType: 415,
    errors.ReferenceNotFound: 400,
    errors.RuleViolation: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.MethodNotAllowed: 405,
    errors.ServiceUnavailable: 503,
    errors.MissingApiKey: 401,
    errors.AdminTokenRequired: 401,
    errors.AdminTokenNotAKey: 401,
    errors.AccessDenied: 403,
    errors.PayloadTooLarge: 413,
    errors.HeadersTooLarge: 431,
    errors.TooManyRequests: 429,
}


def status_for(exc: errors.RoomlineError) -> int:
    """Return the HTTP status for ``exc``: the entry of its nearest class in ``STATUS``."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def headers_for(exc: errors.RoomlineError) -> dict[str, str]:
    if isinstance(exc, errors.TooManyRequests):
        return {"Retry-After": str(exc.retry_after_seconds)}
    if isinstance(exc, errors.ServiceUnavailable):
        return {"Retry-After": "1"}
    return {}


def from_http_exception(exc: StarletteHTTPException) -> errors.RoomlineError:
    if exc.status_code == 404:
        return errors.NotFound("No such path.")
    if exc.status_code == 405:
        *others, last = (exc.headers or {}).get("Allow", "POST").split(", ")
        allowed = f"{', '.join(others)} or {last}" if others else last
        return errors.MethodNotAllowed(f"This path accepts only {allowed}.")
    return errors.InvalidRequest(str(exc.detail))


def install_handlers(app: FastAPI) -> None:
    """Answer every error as JSON ``{"message", "code"}``; never a bare 500 page."""

    @app.exception_handler(errors.RoomlineError)
    async def roomline_error(request: Request, exc: errors.RoomlineError) -> JSONResponse:
        return error_response(exc, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:  # RFC 9110: a 405 lists every method of the path
            allow = ", ".join(allowed_methods(request))
            exc.headers = {"Allow": allow}
        response = error_response(from_http_exception(exc), request.url.path)
        if exc.status_code == 405:
            response.headers["Allow"] = allow
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        invalid = errors.InvalidParameter(problems or "Invalid request.")
        return error_response(invalid, request.url.path)


def allowed_methods(request: Request) -> list[str]:
    """Return the methods some route answers on the request's path (Starlette names one
    route's only); found by asking the router, so included routers count too."""
    allowed = []
    for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def error_response(exc: errors.RoomlineError, path: str) -> JSONResponse:
    """Answer ``exc`` as JSON: under the Ultimo prefix in Ultimo's envelope, elsewhere
    ``{"message", "code"}`` and ``details`` where the error lists them."""
    on_wire = path.lower().startswith(WIRE_PREFIX)
    body: dict[str, Any] = (
        bodies.error(exc) if on_wire else {"message": exc.message, "code": exc.code}
    )
    if isinstance(exc, errors.ImportRejected) and not on_wire:
        body["problems"] = [{"line": line, "reason": reason} for line, reason in exc.problems]
    if exc.details is not None and not on_wire:
        body["details"] = exc.details
    return JSONResponse(body, status_code=status_for(exc), headers=headers_for(exc))
