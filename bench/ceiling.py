"""The ceiling: the least an ASGI app can do per request, served by the same uvicorn.

It reads the request body (as roomline must) and answers a constant JSON body, so its
throughput is what uvicorn, the event loop and the HTTP parser allow on this machine. roomline's workflows are reported as a share of it.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"properties":{"Output":{"collection":[]}}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
