"""``/api/demo/reset``, ``/api/demo/faults`` and ``/api/demo/requests``: the stand-in's
controls, only in ``roomline demo`` and only with the admin token.

Bodies are read by the endpoints themselves (``read_body_as``), after the admin token
was checked by the router's dependency: FastAPI reads a declared body parameter before
it runs any dependency, so a caller without the token could make the server read and
parse up to any size. Here nobody without the token gets a byte read.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from roomline.api.admin import require_admin
from roomline.domain.errors import InvalidBody, InvalidParameter, PayloadTooLarge
from roomline.services import standin
from roomline.storage.standin import JOURNAL_LIMIT

TAG = "Stand-in"
MAX_CONTROL_BODY_BYTES = 64 * 1024
MAX_FAULT_ID = 2**31 - 1  # the largest id every database stores (found by fuzzing)

router = APIRouter(prefix="/api/demo", tags=[TAG], dependencies=[Depends(require_admin)])

Model = TypeVar("Model", bound=BaseModel)


async def read_body_as(request: Request, model: type[Model]) -> Model:
    """Read a JSON body of at most ``MAX_CONTROL_BODY_BYTES`` into ``model``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CONTROL_BODY_BYTES:
            raise PayloadTooLarge(
                f"The request body is larger than {MAX_CONTROL_BODY_BYTES} bytes."
            )
        chunks.append(chunk)
    try:
        value = orjson.loads(b"".join(chunks) or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(f"The body is not JSON: {exc}.") from exc
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidParameter(problems) from exc


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an endpoint that reads ``model`` itself."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


class FaultSpec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # no 0 for false, no "5" for 5: a typo is refused, not guessed
        json_schema_extra={
            "examples": [
                {"workflow": "REST_CreateReservation", "status": 429, "times": 2},
                {"workflow": "*", "delay_ms": 3000, "times": 1},
                {"workflow": "REST_GetReservationsForSpace", "drop": True},
                {
                    "workflow": "REST_CreateReservation",
                    "status": 500,
                    "match": {"SpaceId": "C-25"},
                },
            ]
        },
    )

    workflow: str = Field(..., description="A workflow name (any casing), or '*' for all.")
    status: int | None = Field(
        None,
        ge=200,
        le=599,
        description="Answer this status in Ultimo's envelope (401: MissingApiKey; 429 and "
        "503 with Retry-After), or with 'body'. The workflow does not run.",
    )
    body: Any = Field(None, description="Answer this JSON instead of the envelope.")
    retry_after: int | None = Field(
        None, ge=0, le=86_400, description="Retry-After seconds (429 and 503: default 1)."
    )
    delay_ms: int = Field(
        0,
        ge=0,
        le=standin.MAX_DELAY_MS,
        description="Wait this long before answering (alone: then answer normally).",
    )
    drop: bool = Field(False, description="Close the connection without an answer.")
    times: int | None = Field(
        None, ge=1, description="Fire for this many matching requests; left out: until removed."
    )
    match: dict[str, Any] | None = Field(
        None,
        description="Fire only for requests whose JSON body has these properties "
        "(names in any casing) with these values.",
    )


class FaultState(BaseModel):
    id: int
    workflow: str
    status: int | None
    body: Any
    retry_after: int | None
    delay_ms: int
    drop: bool
    times: int | None
    match: dict[str, Any] | None
    fired: int = Field(..., description="How often it fired, counted across all workers.")


class JournalEntry(BaseModel):
    id: int
    time: str = Field(..., description="When the request arrived (UTC, system time).")
    method: str
    path: str
    query: str
    workflow: str
    headers: dict[str, str] = Field(
        ..., description="As received (names lower-case); ApiKey shortened to its last four."
    )
    body: Any = Field(..., description="The body as JSON where it parses, else as text.")
    status: int | None = Field(..., description="The status answered; null when dropped.")
    response_headers: dict[str, str]
    response_body: Any
    duration_ms: float
    fault: FaultState | None = Field(..., description="The fault applied, if any.")


@router.post(
    "/reset",
    status_code=204,
    summary="Reset the demo to how it started.",
    response_class=Response,
)
async def reset(request: Request) -> Response:
    """Bring data, numbering and clock back to how the demo started; remove every fault
    and empty the journal."""
    await run_in_threadpool(standin.reset, request.app.state.database)
    return Response(status_code=204)


@router.post(
    "/faults",
    status_code=201,
    response_model=FaultState,
    summary="Make the next matching requests fail, wait or go unanswered.",
    openapi_extra=body_of(FaultSpec),
)
async def add_fault(request: Request) -> FaultState:
    """Arm a fault for the Ultimo workflows, shared by every worker of the demo."""
    spec = await read_body_as(request, FaultSpec)
    fault = await run_in_threadpool(
        lambda: standin.add_fault(request.app.state.database, **spec.model_dump())
    )
    return FaultState(**fault.as_json())


@router.get("/faults", response_model=list[FaultState], summary="List the faults.")
async def list_faults(request: Request) -> list[FaultState]:
    """Return every fault, oldest first, with how often it fired."""
    faults = await run_in_threadpool(standin.list_faults, request.app.state.database)
    return [FaultState(**fault.as_json()) for fault in faults]


@router.delete("/faults", status_code=204, summary="Remove every fault.", response_class=Response)
async def remove_all_faults(request: Request) -> Response:
    """Remove every fault."""
    await run_in_threadpool(standin.remove_all_faults, request.app.state.database)
    return Response(status_code=204)


@router.delete(
    "/faults/{fault_id}", status_code=204, summary="Remove a fault.", response_class=Response
)
async def remove_fault(
    request: Request, fault_id: Annotated[int, Path(ge=1, le=MAX_FAULT_ID)]
) -> Response:
    """Remove one fault."""
    await run_in_threadpool(standin.remove_fault, request.app.state.database, fault_id)
    return Response(status_code=204)


@router.get(
    "/requests",
    response_model=list[JournalEntry],
    summary="List the requests the Ultimo workflows received.",
)
async def list_requests(
    request: Request,
    workflow: Annotated[str | None, Query(description="Only this workflow's.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=JOURNAL_LIMIT, description="At most this many, the newest.")
    ] = 100,
) -> list[dict[str, Any]]:
    """Return the newest requests under ``/api/V1/``, oldest first (at most 1,000 kept)."""
    if workflow is not None:
        workflow = standin.workflow_named(workflow)
        workflow = None if workflow == standin.ANY_WORKFLOW else workflow
    return await run_in_threadpool(standin.journal, request.app.state.database, workflow, limit)


@router.delete("/requests", status_code=204, summary="Empty the journal.", response_class=Response)
async def clear_requests(request: Request) -> Response:
    """Forget every request received so far."""
    await run_in_threadpool(standin.clear_journal, request.app.state.database)
    return Response(status_code=204)
