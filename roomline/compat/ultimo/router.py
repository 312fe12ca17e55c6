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
from roomline.services.keys import authorize, identify
from roomline.services.limits import Limiter
from roomline.services.reservations import ReservationService
from roomline.storage.database import Database, DatabaseUnavailable
from roomline.storage.hotreads import HotReads
from roomline.storage.keys import StoredKey

log = logging.getLogger("roomline.ultimo")

PREFIX = "/api/V1/Action/"
_CANONICAL = {name.lower(): name for name in wire.WORKFLOWS}

api_key_header = APIKeyHeader(
    name="ApiKey", auto_error=False, description="The 32-hex-digit API key of the caller."
)


class Handover(Exception):
    """An inline request reached a step that may write or wait.

    With ``use_case`` the request is admitted (key, limits, parameters) and only that
    write remains, for the event loop's write group (``Database.write_on_loop``);
    without it the whole request runs again in the threadpool.
    """

    def __init__(self, use_case: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.use_case = use_case


@dataclass
class UltimoGateway:
    """What the router needs from the app: storage, the use cases and the wire options."""

    database: Database
    service: ReservationService
    application_element_ids: dict[str, str]
    strict: bool
    limiter: Limiter | None = None

    def dispatch(
        self,
        workflow: str,
        raw: bytes,
        api_key: str | None,
        element_id: str | None,
        content_type: str | None,
        info: RequestInfo | None = None,
        inline: bool = False,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one workflow request; return status, body and extra headers.

        ``inline`` (on the event loop) raises ``Handover`` before anything that
        may write or wait.
        """
        info = info or RequestInfo(request_id="", client_address=None)
        return self._guarded(
            workflow,
            lambda: self._run(workflow, raw, api_key, element_id, content_type, info, inline),
        )

    async def finish(
        self, workflow: str, use_case: Callable[[], dict[str, Any]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run the write an inline ``dispatch`` handed over, in the loop's write group."""
        try:
            return 200, await self.database.write_on_loop(use_case), {}
        except (RoomlineError, *DatabaseUnavailable) as exc:
            return self._refusal(workflow, exc)

    def _guarded(
        self, workflow: str, step: Callable[[], dict[str, Any]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            return 200, step(), {}
        except (RoomlineError, *DatabaseUnavailable) as exc:
            return self._refusal(workflow, exc)

    def _refusal(self, workflow: str, exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not isinstance(exc, RoomlineError):  # DatabaseUnavailable
            log.warning("database unavailable during %s: %s", workflow, getattr(exc, "orig", exc))
            exc = ServiceUnavailable("The database is busy; retry shortly.")
        metrics.WORKFLOW_ERRORS.labels(workflow, exc.code).inc()
        return status_for(exc), bodies.error(exc), headers_for(exc)

    def runs_inline(self, workflow: str) -> bool:
        """Whether ``workflow`` runs on the event loop rather than in the threadpool.

        On SQLite, reading a few index pages never waits for a lock (WAL readers do not
        block), so handing it to a worker thread costs more than running it: with every
        request on a thread of its own, the threads mostly fight over the GIL. So a Get
        runs inline, and a write is admitted inline (key, limits, parameters) and hands
        only its use case to the loop's write group (``Handover``), which runs it on the
        loop too and sends only the wait for the write lock and the commit to a thread.
        A request whose key the limiter counts runs in the threadpool, since counting
        may write. PostgreSQL queries wait on the network: all in the threadpool.
        """
        return self.database.dialect == "sqlite"

    def _run(
        self,
        workflow: str,
        raw: bytes,
        api_key: str | None,
        element_id: str | None,
        content_type: str | None,
        info: RequestInfo,
        inline: bool = False,
    ) -> dict[str, Any]:
        with self.service.hot_reads.read() as reads:
            key = self._key(reads, api_key, workflow, info)
            if workflow == wire.GET and not self._counted(key):
                # Nothing to count: one read for the key and the listing.
                return self._listing(reads, raw, element_id, content_type)
        # Counting may write, so it waits for a connection of its own: never while the
        # read holds one, or ten requests waiting so would hold a pool of ten.
        self._admit(key, inline)
        if workflow == wire.GET:
            with self.service.hot_reads.read() as reads:
                return self._listing(reads, raw, element_id, content_type)
        values = self._parameters(workflow, raw, element_id, content_type)
        actor = Actor(key.name, info.client_address, workflow, info.request_id or None)
        use_case = self._write(workflow, values, key.id, actor)
        if inline:
            raise Handover(use_case)
        return use_case()

    def _key(
        self, reads: HotReads, api_key: str | None, workflow: str, info: RequestInfo
    ) -> StoredKey:
        key = identify(reads, api_key)
        info.key_name = key.name  # logged even when the key is refused below
        authorize(key, workflow, info.client_address)
        return key

    def _counted(self, key: StoredKey) -> bool:
        return self.limiter is not None and self.limiter.counts(key)

    def _admit(self, key: StoredKey, inline: bool) -> None:
        if self.limiter is not None:
            if inline and self.limiter.counts(key):
                raise Handover()
            self.limiter.check(key)

    def _listing(
        self, reads: HotReads, raw: bytes, element_id: str | None, content_type: str | None
    ) -> dict[str, Any]:
        values = self._parameters(wire.GET, raw, element_id, content_type)
        return bodies.collection(self.service.in_window(wire.window(values), reads))

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

    def _write(
        self, workflow: str, values: dict[str, str], key_id: int, actor: Actor
    ) -> Callable[[], dict[str, Any]]:
        if workflow == wire.CREATE:
            request = wire.new_reservation(values)
            return lambda: bodies.created(self.service.create(request, key_id, actor))
        if workflow == wire.UPDATE:
            change = wire.time_change(values, self.strict)

            def update() -> dict[str, Any]:
                self.service.update(change, actor)
                return bodies.empty()

            return update
        ultimo_id = wire.ultimo_id(values["UltimoId"])

        def cancel() -> dict[str, Any]:
            self.service.cancel(ultimo_id, actor)
            return bodies.empty()

        return cancel


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
    arguments = (
        workflow,
        raw,
        headers.api_key,
        headers.application_element_id,
        headers.content_type,
        info,
    )
    if gateway.runs_inline(workflow):
        try:
            status, body, extra = gateway.dispatch(*arguments, inline=True)
        except Handover as handover:
            if handover.use_case is not None:
                status, body, extra = await gateway.finish(workflow, handover.use_case)
            else:
                status, body, extra = await run_in_threadpool(gateway.dispatch, *arguments)
    else:
        status, body, extra = await run_in_threadpool(gateway.dispatch, *arguments)
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


class CaseInsensitiveWorkflowPaths:
    """Route ``/api/v1/action/rest_createreservation`` and other casings to the canonical path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.lower().startswith(PREFIX.lower()):
                name = path[len(PREFIX) :]
                canonical = PREFIX + _CANONICAL.get(name.lower(), name)
                if canonical != path:
                    scope = dict(scope, path=canonical, raw_path=canonical.encode())
        await self.app(scope, receive, send)


class UltimoFastPath:
    """Answer ``POST`` to the four workflows without FastAPI's routing and dependencies.

    Resolving the route and its header dependencies costs about as much as the Get
    itself, and Starlette's request and response objects a few microseconds more; the
    same ``answer`` runs either way, so the behaviour is the route's. The
    FastAPI routes stay for everything else (other methods, unknown workflows) and for
    the OpenAPI document. Install it inside ``CaseInsensitiveWorkflowPaths``, which makes
    the path canonical first.
    """

    def __init__(self, app: ASGIApp, gateway: UltimoGateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            workflow = _FAST_PATHS.get(scope["path"])
            if workflow is not None:
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


_FAST_PATHS = {PREFIX + name: name for name in wire.WORKFLOWS}
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")
