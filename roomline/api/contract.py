"""The OpenAPI document, completed to say what the server really answers.

FastAPI documents a 422 ``HTTPValidationError`` for every route with parameters, but
roomline answers validation failures with 400 and its own ``{"message", "code"}`` body
(``api/errors.py``), and it documents nothing about the errors raised outside a route's
own code: the admin token (401), the request-header guard (400, 431) and an unreachable
database (503). Schema-driven fuzzing (tests/reliability) holds the server to this
document, so it must list every status an operation can answer, with its body.

The Ultimo workflows describe their own errors (``compat/ultimo/docs.py``); here they
only lose the 422 they never answer and get the configured ApplicationElementId GUIDs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from roomline.api import booking
from roomline.api.errors import WIRE_PREFIX
from roomline.api.management import PREFIX as MANAGEMENT_PREFIX

ERROR_SCHEMA_NAME = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "required": ["message", "code"],
    "properties": {
        "message": {"type": "string", "description": "For people: what was wrong."},
        "code": {"type": "string", "description": "Stable; see docs/errors.md."},
        "details": {
            "type": "array",
            "items": {"type": "object"},
            "description": "roomline's own API: each part of the request that failed, "
            "where one request can fail in several places (e.g. occurrences of a series).",
        },
    },
}
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

# Statuses any route outside the Ultimo workflows may answer, whatever its own code does.
GENERAL_ERRORS: dict[str, str] = {
    "400": "The request is not valid (InvalidParameter, a duplicated header, ...).",
    "431": "The request's headers are larger than the limit (HeadersTooLarge).",
    "503": "The database is busy or unreachable; retry (ServiceUnavailable).",
}
ADMIN_ERROR = "No admin token, or a wrong one (AdminTokenRequired)."
NOT_FOUND_ERROR = "The path names nothing that exists."
CONFLICT_ERROR = "The change collides with what is stored (AlreadyExists, StillReferenced)."
# Statuses every ``/api/booking`` operation may answer, from its key check (``grant``).
BOOKING_ERRORS: dict[str, str] = {
    "401": "No API key, or an unknown or revoked one (MissingApiKey).",
    "403": "The key may not call this operation (WorkflowNotAllowed) or not from this "
    "address (AddressNotAllowed).",
    "429": "A rate limit or quota is exhausted (TooManyRequests); see Retry-After.",
}
WRITE_METHODS = ("post", "put", "patch", "delete")


def complete_openapi(
    app: FastAPI, application_element_ids: dict[str, str], demo_keys: str | None = None
) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached).

    ``demo_keys`` (a demo's) tells the Authorize dialog which API key to use.
    """
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(build(), application_element_ids)
            if demo_keys is not None:
                _name_demo_keys(app.openapi_schema, demo_keys)  # type: ignore[arg-type]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any], application_element_ids: dict[str, str]) -> None:
    """Fix ``document`` in place: real error statuses and bodies, the configured GUIDs."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    tags = document.setdefault("tags", [])
    if not any(tag.get("name") == booking.TAG for tag in tags):
        tags.append({"name": booking.TAG, "description": booking.TAG_DESCRIPTION})
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if path.lower().startswith(WIRE_PREFIX):
                workflow = path.rsplit("/", 1)[-1]
                if workflow in application_element_ids:
                    _document_element_id(operation, application_element_ids[workflow])
                continue
            for status, description in GENERAL_ERRORS.items():
                responses.setdefault(status, _error(description))
            if any("HTTPBearer" in requirement for requirement in operation.get("security", [])):
                responses.setdefault("401", _error(ADMIN_ERROR))
            if path.startswith(booking.PREFIX):
                for status, description in BOOKING_ERRORS.items():
                    responses.setdefault(status, _error(description))
            if "{" in path:
                responses.setdefault("404", _error(NOT_FOUND_ERROR))
            if path.startswith(MANAGEMENT_PREFIX) and method in WRITE_METHODS:
                responses.setdefault("409", _error(CONFLICT_ERROR))
    if "HTTPValidationError" not in repr(document.get("paths", {})):
        for name in _VALIDATION_SCHEMAS:  # ValidationError is used only by HTTPValidationError
            schemas.pop(name, None)


def _name_demo_keys(document: dict[str, Any], demo_keys: str) -> None:
    schemes = document.get("components", {}).get("securitySchemes", {})
    if "APIKeyHeader" in schemes:
        schemes["APIKeyHeader"]["description"] += (
            f" This demo's key: {demo_keys}. Paste it here, then Try it out."
        )
    if "HTTPBearer" in schemes:
        schemes["HTTPBearer"]["description"] = (
            "The admin token, for /api/manage and the Stand-in controls (/api/demo): "
            "ROOMLINE_ADMIN_TOKEN, or the one `roomline demo` printed at start."
        )


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def _document_element_id(operation: dict[str, Any], guid: str) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "ApplicationElementId" and parameter.get("in") == "header":
            description = (
                f"The workflow's GUID, {guid}; also accepted in upper case, without hyphens "
                "or in braces. Optional, except in strict mode."
            )
            parameter["description"] = description
            parameter["schema"] = {"type": "string", "enum": [guid], "description": description}
            parameter["example"] = guid
