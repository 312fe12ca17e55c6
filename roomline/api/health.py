"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["Health"])


@router.get(
    "/healthz",
    summary="Report whether the server is ready.",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok"}}}},
        503: {
            "description": "The database does not answer.",
            "content": {"application/json": {"example": {"status": "unavailable"}}},
        },
    },
)
async def healthz(request: Request) -> JSONResponse:
    """Answer 200 once the database answers, 503 while it does not."""

    def database_answers() -> bool:
        try:
            with request.app.state.database.read() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    if await run_in_threadpool(database_answers):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable"}, status_code=503)
