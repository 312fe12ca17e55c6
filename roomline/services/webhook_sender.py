"""One webhook attempt over HTTP: check the target, sign, POST, read the answer (SPEC §8).

Sent with aiohttp's client: a delivery costs about a tenth of the CPU it did with httpx
(130 µs against 1.2–1.4 ms a request to a kept-alive receiver, measured side by side on
this machine; docs/performance.md), and delivery CPU is what bounds how many changes a
second the background process can tell.

Every attempt checks the target against ``ROOMLINE_WEBHOOK_ALLOWED_NETWORKS`` (``Targets``)
with what its host resolves to at that moment, and a new connection goes to the addresses
that check allowed (``CheckedAddresses``), not to those of a second lookup that could
answer otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks.webhooks import Webhook

from roomline import __version__
from roomline.domain.errors import InvalidWebhookUrl, WebhookTargetNotAllowed
from roomline.domain.webhooks import Targets, check_url, parse_retry_after

SEND_TIMEOUT = 15.0
EXCERPT_BYTES = 1024
# A few kept-alive connections to a receiver are as fast as many, and cheaper.
CONNECTIONS = 8
USER_AGENT = f"roomline/{__version__}"


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

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self.allowed: dict[tuple[str, int], list[str]] = {}

    def remember(self, host: str, port: int, addresses: list[str]) -> None:
        self.allowed[(host, port)] = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.allowed.get((host, port))
        if addresses is None:
            addresses = await resolve(host, port)
            self.targets.check(host, addresses)
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


class Sender:
    """Signs and POSTs deliveries, each to an address the target rule allows."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets

    def session(self) -> Session:
        """A client for a burst of attempts (call on the event loop; close it after)."""
        return Session(self.targets)


class Session:
    """One aiohttp client session and its checked addresses; ``async with`` closes it."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self.addresses = CheckedAddresses(targets)
        # No redirects (a 3xx could point anywhere, past the target check), no proxy from
        # the environment (the check must see where the request really goes), bodies as
        # they come (the excerpt is the raw answer).
        self.client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=CONNECTIONS, resolver=self.addresses, use_dns_cache=False
            ),
            timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT),
            trust_env=False,
            auto_decompress=False,
        )

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.close()

    async def send(self, url: str, secret: str, message_id: str, body: str) -> Outcome:
        """Resolve, check, sign and POST; the whole attempt ends after SEND_TIMEOUT (a
        receiver trickling its answer cannot hold it past the lease)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                return await self._send(url, secret, message_id, body, started)
        except TimeoutError:
            return _failed(started, f"no answer within {SEND_TIMEOUT:g} s")

    async def _send(
        self, url: str, secret: str, message_id: str, body: str, started: float
    ) -> Outcome:
        try:
            host, port = check_url(url)
            # Again at every attempt: what a name resolves to can change after ``add``.
            addresses = await resolve(host, port)
            self.targets.check(url, addresses)
        except (InvalidWebhookUrl, WebhookTargetNotAllowed) as exc:
            return _failed(started, f"refused, not sent: {exc.message}")
        except OSError as exc:
            return _failed(started, f"cannot resolve the host: {exc}")
        self.addresses.remember(host, port, addresses)
        timestamp = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signer(secret).sign(message_id, timestamp, body),
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
    return round((time.monotonic() - started) * 1000)
