"""``POST /api/V1/Action/{Workflow}``: the four Ultimo workflows.

Each request goes: body size limit (413, ``api/guards.BodyLimit`` in front of every path)
→ API key (401) → the key's IP allow-list (403) → workflow allowed (403) → request limits
(429) → ApplicationElementId (400) → JSON body and parameters (400) → the use case, which
writes its audit entry in its own transaction.
Every rejection answers with Ultimo's envelope; nothing raises past this module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Header, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from roomline import metrics
from roomline.api.errors import headers_for, status_for
from roomline.api.observability import RequestInfo, request_info
from roomline.compat.ultimo import bodies, docs, wire
from roomline.domain.errors import (
    RoomlineError,
    ServiceUnavailable,
    UnknownWorkflow,
    UnsupportedMediaType,
)
from roomline.services.audit import Actor
from roomline.services.keys import admitted_key, authorize, secret_hash
from roomline.services.limits import Limiter
from roomline.services.reservations import Caller, NeedsCounting, ReservationService
from roomline.storage.database import Database, DatabaseUnavailable
from roomline.storage.hotpath import FoundKey, HotPaths
from roomline.storage.keys import StoredKey

log = logging.getLogger("roomline.ultimo")

PREFIX = "/api/V1/Action/"
_CANONICAL = {name.lower(): name for name in wire.WORKFLOWS}

api_key_header = APIKeyHeader(
    name="ApiKey", auto_error=False, description="The 32-hex-digit API key of the caller."
)


@dataclass
class UltimoGateway:
    """What the router needs from the app: the use cases, how they run on this database
    (``hot``: on the event loop on both) and the wire options."""

    database: Database
    service: ReservationService
    hot: HotPaths
    application_element_ids: dict[str, str]
    strict: bool
    limiter: Limiter | None = None

    async def dispatch(
        self,
        workflow: str,
        raw: bytes,
        api_key: str | None,
        element_id: str | None,
        content_type: str | None,
        info: RequestInfo | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one workflow request; return status, body and extra headers."""
        info = info or RequestInfo(request_id="", client_address=None)
        try:
            return 200, await self._run(workflow, raw, api_key, element_id, content_type, info), {}
        except (RoomlineError, *DatabaseUnavailable) as exc:
            return self._refusal(workflow, exc)

    def _refusal(self, workflow: str, exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not isinstance(exc, RoomlineError):  # DatabaseUnavailable
            log.warning("database unavailable during %s: %s", workflow, getattr(exc, "orig", exc))
            exc = ServiceUnavailable("The database is busy; retry shortly.")
        metrics.WORKFLOW_ERRORS.labels(workflow, exc.code).inc()
        return status_for(exc), bodies.error(exc), headers_for(exc)

    async def _run(
        self,
        workflow: str,
        raw: bytes,
        api_key: str | None,
        element_id: str | None,
        content_type: str | None,
        info: RequestInfo,
    ) -> dict[str, Any]:
        """Key (401) → allow-list and workflow (403) → limits (429) → the request's
        parameters (400) → the use case. The key is read with the use case's first read;
        a parameter error found before is raised in its turn, after the key's."""
        candidate = secret_hash(await self.hot.hash_secret_key(), api_key)
        try:
            values = self._parameters(workflow, raw, element_id, content_type)
            command = _command(workflow, values, self.strict)
        except RoomlineError as wrong:
            await self.admit(candidate, workflow, info)
            raise wrong from None
        caller = Caller(secret_hash=candidate, admit=self._admission(candidate, workflow, info))
        try:
            return await self._use_case(workflow, command, caller)
        except NeedsCounting as counting:
            # Counting may wait and write: never inside the use case's read or write.
            await self._count(counting.key)
            actor = _actor(counting.key, workflow, info)
            return await self._use_case(workflow, command, Caller(counting.key.id, actor))

    async def admit(
        self, candidate: str, operation: str, info: RequestInfo
    ) -> tuple[StoredKey, Actor]:
        """Read and admit the key stored under ``candidate`` for ``operation`` on its own,
        and count it: the key's errors, then the limits'."""
        found = await self.hot.read(lambda path: path.read_key(candidate))
        key = self._checked(found, candidate, operation, info)
        if self.limiter is not None and self.limiter.counts(key):
            await self._count(key)
        return key, _actor(key, operation, info)

    def _admission(
        self, candidate: str, operation: str, info: RequestInfo
    ) -> Callable[[FoundKey], tuple[int, Actor]]:
        """Admit the key read with a use case's first read; one the limits count is
        handed back (``NeedsCounting``)."""

        def admit(found: FoundKey) -> tuple[int, Actor]:
            key = self._checked(found, candidate, operation, info)
            if self.limiter is not None and self.limiter.counts(key):
                raise NeedsCounting(key)
            return key.id, _actor(key, operation, info)

        return admit

    @staticmethod
    def _checked(found: FoundKey, candidate: str, operation: str, info: RequestInfo) -> StoredKey:
        key = admitted_key(found, candidate)
        info.key_name = key.name  # logged even when the key is refused below
        authorize(key, operation, info.client_address)
        return key

    async def _count(self, key: StoredKey) -> None:
        assert self.limiter is not None
        await run_in_threadpool(self.limiter.check, key)

    async def _use_case(self, workflow: str, command: Any, caller: Caller) -> dict[str, Any]:
        service, hot = self.service, self.hot
        if workflow == wire.GET:
            listing = await hot.read(lambda path: service.listing_on(path, command, caller))
            return bodies.collection(listing)
        if workflow == wire.CREATE:
            return bodies.created(
                await hot.write(lambda path: service.create_on(path, command, caller))
            )
        if workflow == wire.UPDATE:
            await hot.write(lambda path: service.update_on(path, command, caller))
        else:
            await hot.write(lambda path: service.cancel_on(path, command, caller))
        return bodies.empty()

    def _parameters(
        self, workflow: str, raw: bytes, element_id: str | None, content_type: str | None
    ) -> dict[str, str]:
        wire.check_application_element_id(
            workflow, element_id, self.application_element_ids[workflow], self.strict
        )
        if self.strict and not _is_json(content_type):
            raise UnsupportedMediaType(
                "Send the body with Content-Type: application/json (strict mode)."
            )
        return wire.read_parameters(workflow, wire.parse_body(raw), self.strict)


def _command(workflow: str, values: dict[str, str], strict: bool) -> Any:
    """What the workflow's use case takes, read from its parameters."""
    if workflow == wire.GET:
        return wire.window(values)
    if workflow == wire.CREATE:
        return wire.new_reservation(values)
    if workflow == wire.UPDATE:
        return wire.time_change(values, strict)
    return wire.ultimo_id(values["UltimoId"])


def _actor(key: StoredKey, operation: str, info: RequestInfo) -> Actor:
    return Actor(key.name, info.client_address, operation, info.request_id or None)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    return content_type.split(";")[0].strip().lower() == "application/json"


@dataclass(slots=True)
class WorkflowHeaders:
    """What ``answer`` reads from a request's headers (the first of each; the header
    guard has refused duplicates of the ones that matter)."""

    api_key: str | None = None
    application_element_id: str | None = None
    content_type: str | None = None

    @classmethod
    def of(cls, raw: list[tuple[bytes, bytes]]) -> WorkflowHeaders:
        """Read them in one pass over the ASGI headers, as Starlette would (latin-1)."""
        found = cls()
        for name, value in raw:
            if name == b"apikey" and found.api_key is None:
                found.api_key = value.decode("latin-1")
            elif name == b"applicationelementid" and found.application_element_id is None:
                found.application_element_id = value.decode("latin-1")
            elif name == b"content-type" and found.content_type is None:
                found.content_type = value.decode("latin-1")
        found.api_key = found.api_key or None  # an empty ApiKey is no key
        return found


async def read_body(receive: Receive) -> bytes:
    """Read the body (``BodyLimit`` in front has bounded its size)."""
    chunks: list[bytes] = []
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


async def answer(
    scope: Scope,
    receive: Receive,
    gateway: UltimoGateway,
    workflow: str,
    headers: WorkflowHeaders,
) -> tuple[int, bytes, dict[str, str]]:
    """Answer one workflow request: status, JSON body and extra headers.

    The route below and ``UltimoFastPath`` both land here.
    """
    info = request_info(scope)
    info.workflow = workflow
    raw = await read_body(receive)
    status, body, extra = await gateway.dispatch(
        workflow,
        raw,
        headers.api_key,
        headers.application_element_id,
        headers.content_type,
        info,
    )
    return status, orjson.dumps(body), extra


def _endpoint(workflow: str) -> Callable[..., Awaitable[Response]]:
    async def endpoint(
        request: Request,
        api_key: str | None = Security(api_key_header),
        application_element_id: str | None = Header(
            default=None,
            alias="ApplicationElementId",
            description=(
                f"The workflow's GUID, documented as "
                f"{docs.DOCUMENTED_ELEMENT_IDS[workflow]}; optional unless in strict mode."
            ),
        ),
    ) -> Response:
        headers = WorkflowHeaders(
            api_key,
            application_element_id,
            request.headers.get("content-type"),
        )
        status, body, extra = await answer(
            request.scope, request.receive, request.app.state.ultimo, workflow, headers
        )
        return Response(body, status_code=status, headers=extra, media_type="application/json")

    endpoint.__name__ = workflow
    endpoint.__doc__ = docs.SUMMARIES[workflow]
    return endpoint


def build_router() -> APIRouter:
    router = APIRouter(tags=["Ultimo Reservations"])
    for workflow in wire.WORKFLOWS:
        router.add_api_route(
            PREFIX + workflow,
            _endpoint(workflow),
            methods=["POST"],
            summary=workflow,
            description=docs.DESCRIPTIONS[workflow],
            responses=docs.responses(workflow),
            openapi_extra=docs.request_body(workflow),
            response_class=Response,
        )
    router.add_api_route(
        PREFIX + "{workflow}", _unknown_workflow, methods=["POST"], include_in_schema=False
    )
    return router


async def _unknown_workflow(workflow: str) -> Response:
    exc = UnknownWorkflow(
        f"There is no workflow {workflow[:100]!r}; roomline serves {', '.join(wire.WORKFLOWS)}."
    )
    return json_response(status_for(exc), bodies.error(exc), {})


class UltimoFastPath:
    """Make workflow paths canonical, and answer ``POST`` to the four workflows without
    FastAPI's routing and dependencies.

    Ultimo's paths are matched case-insensitively (``/api/v1/action/rest_createreservation``
    is the canonical path), for every method, so FastAPI's routes see them canonical too.
    Resolving the route and its header dependencies costs about as much as the Get
    itself, and Starlette's request and response objects a few microseconds more; the
    same ``answer`` runs either way, so the behaviour is the route's. The FastAPI routes
    stay for everything else (other methods, unknown workflows) and for the OpenAPI
    document.
    """

    def __init__(self, app: ASGIApp, gateway: UltimoGateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            workflow = _FAST_PATHS.get(scope["path"])
            if workflow is None:
                scope = _canonical(scope)
                workflow = _FAST_PATHS.get(scope["path"])
            if workflow is not None and scope["method"] == "POST":
                headers = WorkflowHeaders.of(scope["headers"])
                status, body, extra = await answer(scope, receive, self.gateway, workflow, headers)
                # What Starlette's Response would send, without building one.
                raw = [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in extra.items()
                ]
                raw += [(b"content-length", str(len(body)).encode()), _JSON_CONTENT_TYPE]
                await send({"type": "http.response.start", "status": status, "headers": raw})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _canonical(scope: Scope) -> Scope:
    """``scope`` with a workflow path in any casing made canonical (others as they are)."""
    path: str = scope["path"]
    if path.lower().startswith(PREFIX.lower()):
        name = path[len(PREFIX) :]
        canonical = PREFIX + _CANONICAL.get(name.lower(), name)
        if canonical != path:
            return dict(scope, path=canonical, raw_path=canonical.encode())
    return scope


_FAST_PATHS = {PREFIX + name: name for name in wire.WORKFLOWS}
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")
