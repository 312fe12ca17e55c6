"""One webhook attempt over HTTP: check the target, sign, POST, read the answer (SPEC §8).

Sent with aiohttp's client: a delivery costs about a tenth of the CPU it did with httpx
(130 µs against 1.2–1.4 ms a request to a kept-alive receiver, measured side by side on
this machine; docs/performance.md), and delivery CPU is what bounds how many changes a
second the background process can tell.

Every attempt checks the target against ``ROOMLINE_WEBHOOK_ALLOWED_NETWORKS`` (``Targets``)
with what its host resolved to at most ``RESOLVED_FOR`` ago, and a new connection goes to
the addresses that check allowed (``CheckedAddresses``), not to those of a second lookup
that could answer otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks.webhooks import Webhook

from roomline import __version__
from roomline.domain.errors import InvalidWebhookUrl, WebhookTargetNotAllowed
from roomline.domain.webhooks import Targets, check_url, parse_retry_after
from roomline.services.shared_calls import SharedCalls

SEND_TIMEOUT = 15.0
EXCERPT_BYTES = 1024
# A few kept-alive connections to a receiver are as fast as many, and cheaper.
CONNECTIONS = 8
USER_AGENT = f"roomline/{__version__}"
# A host name's addresses, once checked, serve the attempts of the next seconds: a receiver
# that moves is followed within them, and a thousand deliveries a second to one name do not
# ask the system's resolver (and perhaps a DNS server) a thousand times (as aiohttp's own
# cache, whose default is also 10 s).
RESOLVED_FOR = 10.0
# What a host and port resolve to (``resolve``).
Lookup = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: an HTTP status, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str
    retry_after: timedelta | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class CheckedAddresses(AbstractResolver):
    """aiohttp's resolver for webhook connections: it answers a host with the addresses
    the latest attempt's check allowed, so a connection goes where the check looked. A
    host no attempt checked (aiohttp spelling a name otherwise) is resolved and checked
    here."""

    def __init__(
        self, targets: Targets, lookup: Lookup, resolved_for: float = RESOLVED_FOR
    ) -> None:
        self.targets = targets
        self.lookup = lookup
        self.resolved_for = resolved_for
        # (host, port): the addresses the latest check allowed, and when it looked them up
        self.allowed: dict[tuple[str, int], tuple[list[str], float]] = {}
        # One lookup for all the attempts that need it at once (a burst starting); one
        # attempt's timeout does not cancel it for the others.
        self.lookups: SharedCalls[tuple[str, int], list[str]] = SharedCalls()

    async def checked(self, url: str, host: str, port: int) -> list[str]:
        """The addresses ``host`` stands for, allowed by the target rule: looked up and
        checked again once ``resolved_for`` has passed (what a name resolves to can
        change after ``add``). Raises WebhookTargetNotAllowed, or OSError from the
        lookup."""
        key = (host, port)
        known = self.allowed.get(key)
        if known is not None and time.monotonic() - known[1] < self.resolved_for:
            return known[0]
        return await self.lookups.run(key, lambda: self._look_up(url, key))

    async def _look_up(self, url: str, key: tuple[str, int]) -> list[str]:
        looked_up = time.monotonic()
        addresses = await self.lookup(*key)
        self.targets.check(url, addresses)
        self.allowed[key] = (addresses, looked_up)
        return addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        known = self.allowed.get((host, port))
        addresses = known[0] if known is not None else await self.checked(host, host, port)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        self.allowed.clear()
        self.lookups.cancel()


class Sender:
    """Signs and POSTs deliveries, each to an address the target rule allows."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets

    def session(self) -> Session:
        """A client for a burst of attempts (call on the event loop; close it after)."""
        return Session(self.targets)


class Session:
    """One aiohttp client session and its checked addresses; ``async with`` closes it."""

    def __init__(
        self, targets: Targets, lookup: Lookup | None = None, resolved_for: float = RESOLVED_FOR
    ) -> None:
        self.addresses = CheckedAddresses(targets, lookup or resolve, resolved_for)
        # No redirects (a 3xx could point anywhere, past the target check), no proxy from
        # the environment (the check must see where the request really goes), bodies as
        # they come (the excerpt is the raw answer), no cookies (a receiver's Set-Cookie
        # must not ride along on later deliveries). No timeout of aiohttp's own: ``send``
        # bounds the whole attempt, and a second timer a request cost 3 % of its CPU.
        self.client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=CONNECTIONS, resolver=self.addresses, use_dns_cache=False
            ),
            timeout=aiohttp.ClientTimeout(),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=False,
        )

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.close()

    async def send(self, url: str, secrets: tuple[str, ...], message_id: str, body: str) -> Outcome:
        """Resolve, check, sign and POST; the whole attempt ends after SEND_TIMEOUT (a
        receiver trickling its answer cannot hold it past the lease)."""
        # The loop's clock, which the timeout below reads: uvloop's is read once per turn
        # of the loop, so time.monotonic() taken here can be a millisecond past the moment
        # the deadline counts from, and an attempt cut off at 15 s measured 14,999 ms.
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                return await self._send(url, secrets, message_id, body, started)
        except TimeoutError:
            return _failed(started, f"no answer within {SEND_TIMEOUT:g} s")

    async def _send(
        self, url: str, secrets: tuple[str, ...], message_id: str, body: str, started: float
    ) -> Outcome:
        try:
            host, port = _checked_url(url)
            await self.addresses.checked(url, host, port)
        except (InvalidWebhookUrl, WebhookTargetNotAllowed) as exc:
            return _failed(started, f"refused, not sent: {exc.message}")
        except OSError as exc:
            return _failed(started, f"cannot resolve the host: {exc}")
        timestamp = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            # One signature for each secret, space-separated (a rotation's old one too).
            "webhook-signature": " ".join(
                signer(secret).sign(message_id, timestamp, body) for secret in secrets
            ),
        }
        try:
            async with self.client.post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as answer:
                excerpt = await _excerpt(answer.content)
                retry_after = parse_retry_after(
                    answer.headers.get("retry-after"), datetime.now(UTC)
                )
                return Outcome(answer.status, None, _ms_since(started), excerpt, retry_after)
        except WebhookTargetNotAllowed as exc:  # from CheckedAddresses, for a name respelled
            return _failed(started, f"refused, not sent: {exc.message}")
        except (aiohttp.ClientError, OSError) as exc:
            return _failed(
                started, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            )


# A URL's form is checked at every attempt, and a subscription's URL never changes.
_checked_url = functools.lru_cache(maxsize=1024)(check_url)


@functools.lru_cache(maxsize=256)
def signer(secret: str) -> Webhook:
    """The Standard Webhooks signer of a secret (made once: it decodes the secret)."""
    return Webhook(secret)


def _failed(started: float, error: str) -> Outcome:
    return Outcome(None, error, _ms_since(started), "", None)


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a host stands for: an address as it is (no lookup, no thread), a
    name as the system resolves it."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_now(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


async def _excerpt(content: aiohttp.StreamReader) -> str:
    taken = b""
    while len(taken) < EXCERPT_BYTES:
        chunk = await content.read(EXCERPT_BYTES - len(taken))
        if not chunk:
            break
        taken += chunk
    return taken.decode("utf-8", "replace")


def _ms_since(started: float) -> int:
    """Milliseconds since ``started`` on the running loop's clock."""
    return round((asyncio.get_running_loop().time() - started) * 1000)
