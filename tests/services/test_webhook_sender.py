"""How an attempt finds its receiver: a host name is looked up once for the attempts of the
next seconds, checked against the target rule, and looked up and checked again after.

A real receiver on 127.0.0.1 and the system's own resolver (``localhost``); the lookup is
wrapped only to count its calls and, in one test, to answer as a name moved elsewhere
would.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from roomline.domain.webhooks import Targets
from roomline.services.webhook_sender import Outcome, Session, resolve
from tests.api.receiver import Answer, running_receiver

LOOPBACK = Targets.from_setting("127.0.0.0/8")
SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="


class CountedLookup:
    """The system's resolver, counted; ``moved_to`` answers instead, as a name whose
    record changed would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.moved_to: list[str] | None = None

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.moved_to if self.moved_to is not None else await resolve(host, port)


async def _send_all(session: Session, url: str, count: int) -> list[Outcome]:
    return list(
        await asyncio.gather(
            *(session.send(url, (SECRET,), f"msg_{n}", "{}") for n in range(count))
        )
    )


def test_a_name_is_looked_up_once_for_a_burst_and_again_after_it_expires() -> None:
    lookup = CountedLookup()

    async def run(url: str) -> tuple[list[Outcome], list[Outcome], list[Outcome]]:
        async with Session(LOOPBACK, lookup, resolved_for=0.5) as session:
            burst = await _send_all(session, url, 20)  # all at once: one lookup
            again = await _send_all(session, url, 3)  # still fresh: none
            await asyncio.sleep(0.6)
            lookup.moved_to = ["169.254.169.254"]  # the name now points elsewhere
            moved = await _send_all(session, url, 3)
            return burst, again, moved

    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        burst, again, moved = asyncio.run(run(f"http://localhost:{port}/hook"))
        receiver.wait(23)

    assert [outcome.status_code for outcome in burst + again] == [200] * 23
    # Looked up again once expired, checked again, and refused without a request.
    assert lookup.calls == [("localhost", port), ("localhost", port)]
    assert {outcome.status_code for outcome in moved} == {None}
    refusal = f"refused, not sent: Webhook target http://localhost:{port}/hook resolves to "
    assert all((outcome.error or "").startswith(refusal + "169.254.169.254") for outcome in moved)
    assert len(receiver.received) == 23


def test_a_refused_name_is_looked_up_again_at_the_next_attempt() -> None:
    """A refusal is not remembered: a name moved back to an allowed address is sent to."""
    lookup = CountedLookup()
    lookup.moved_to = ["10.0.0.1"]

    async def run(url: str) -> tuple[Outcome, Outcome]:
        async with Session(LOOPBACK, lookup) as session:
            refused = await session.send(url, (SECRET,), "msg_1", "{}")
            lookup.moved_to = None
            return refused, await session.send(url, (SECRET,), "msg_2", "{}")

    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        refused, sent = asyncio.run(run(f"http://localhost:{port}/hook"))
        receiver.wait(1)

    assert refused.status_code is None
    assert "resolves to 10.0.0.1, which is not allowed" in (refused.error or "")
    assert sent.status_code == 200
    assert len(lookup.calls) == 2


def test_a_receivers_cookie_is_not_sent_back() -> None:
    """Deliveries carry no state from one attempt to the next: a receiver's Set-Cookie is
    not returned on later deliveries (aiohttp's client keeps cookies by default, for a
    host name; not for an address)."""

    async def run(url: str) -> list[Outcome]:
        async with Session(LOOPBACK) as session:
            return [await session.send(url, (SECRET,), f"msg_{n}", "{}") for n in range(2)]

    cookie = Answer(200, headers={"Set-Cookie": "session=abc; Path=/"})
    with running_receiver(cookie) as receiver:
        port = urlsplit(receiver.url).port
        sent = asyncio.run(run(f"http://localhost:{port}/hook"))
        got = receiver.wait(2)

    assert [outcome.status_code for outcome in sent] == [200, 200]
    assert [r.headers.get("cookie") for r in got] == [None, None]
