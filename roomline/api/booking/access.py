"""Who calls an ``/api/booking`` operation, and whether that key may."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Security

from roomline.api.observability import request_info
from roomline.compat.ultimo.router import UltimoGateway, api_key_header
from roomline.services.audit import Actor
from roomline.services.keys import authorize, identify
from roomline.storage.keys import StoredKey


@dataclass(frozen=True, slots=True)
class Caller:
    """The admitted key of a request, and the actor its writes are recorded under."""

    key: StoredKey
    actor: Actor


def grant(operation: str) -> Callable[..., Caller]:
    """Return a route dependency admitting keys granted ``operation`` (a grant name from
    ``services.keys.GRANTS``): key, IP allow-list, grant, then request limits."""

    def admit(request: Request, api_key: str | None = Security(api_key_header)) -> Caller:
        gateway: UltimoGateway = request.app.state.ultimo
        info = request_info(request.scope)
        info.workflow = operation
        with gateway.service.hot_reads.read() as reads:
            key = identify(reads, api_key or None)
        info.key_name = key.name  # logged even when the key is refused below
        authorize(key, operation, info.client_address)
        if gateway.limiter is not None:
            gateway.limiter.check(key)  # may write: outside the read above
        return Caller(key, Actor(key.name, info.client_address, operation, info.request_id))

    return admit
