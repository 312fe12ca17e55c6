"""Who calls an ``/api/booking`` operation, and whether that key may."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Security

from roomline.api.observability import request_info
from roomline.api.parameters import refuse_unknown_query_parameters
from roomline.compat.ultimo.router import UltimoGateway, api_key_header
from roomline.services.audit import Actor
from roomline.services.keys import secret_hash
from roomline.storage.keys import StoredKey


@dataclass(frozen=True, slots=True)
class Caller:
    """The admitted key of a request, and the actor its writes are recorded under."""

    key: StoredKey
    actor: Actor


def grant(operation: str) -> Callable[..., Awaitable[Caller]]:
    """Return a route dependency admitting keys granted ``operation`` (a grant name from
    ``services.keys.GRANTS``): key, IP allow-list, grant, request limits, then the
    query's parameter names."""

    async def admit(request: Request, api_key: str | None = Security(api_key_header)) -> Caller:
        gateway: UltimoGateway = request.app.state.ultimo
        info = request_info(request.scope)
        info.workflow = operation
        candidate = secret_hash(await gateway.hot.hash_secret_key(), api_key or None)
        key, actor = await gateway.admit(candidate, operation, info)
        refuse_unknown_query_parameters(request)
        return Caller(key, actor)

    return admit
