"""What the sync and async clients share: where to send a call, with which headers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from roomline import __version__
from roomline.client import wire
from roomline.client.errors import ConnectionFailed
from roomline.client.retry import RetryPolicy
from roomline.client.wire import DOCUMENTED_APPLICATION_ELEMENT_IDS, Call

log = logging.getLogger("roomline.client")

ACTION_PATH = "/api/V1/Action/"


@dataclass(frozen=True)
class ClientOptions:
    base_url: str
    api_key: str
    application_element_ids: dict[str, str | None]
    retry: RetryPolicy

    @classmethod
    def build(
        cls,
        base_url: str,
        api_key: str,
        application_element_ids: Mapping[str, str | None] | None,
        send_application_element_id: bool,
        retry: RetryPolicy | None,
    ) -> ClientOptions:
        unknown = set(application_element_ids or {}) - set(DOCUMENTED_APPLICATION_ELEMENT_IDS)
        if unknown:
            raise ValueError(f"unknown workflows: {', '.join(sorted(unknown))}")
        ids: dict[str, str | None] = {**DOCUMENTED_APPLICATION_ELEMENT_IDS}
        ids.update(application_element_ids or {})
        if not send_application_element_id:
            ids = dict.fromkeys(ids)
        return cls(base_url.rstrip("/"), api_key, ids, retry or RetryPolicy())

    def url(self, call: Call) -> str:
        return f"{self.base_url}{call.path or ACTION_PATH + call.workflow}"

    def headers(self, call: Call) -> dict[str, str]:
        headers = {
            "ApiKey": self.api_key,
            "Accept": "application/json",
            "User-Agent": f"roomline-client/{__version__}",
        }
        element_id = self.application_element_ids.get(call.workflow)
        if element_id:
            headers["ApplicationElementId"] = element_id
        return headers

    def delay_or_raise(
        self,
        call: Call,
        attempt: int,
        *,
        response: httpx.Response | None = None,
        error: Exception | None = None,
    ) -> float:
        """Return how long to wait before trying ``call`` again, or raise to give up."""
        if response is not None:
            delay = self.retry.delay_after_status(response, call.idempotent, attempt)
            if delay is None:
                raise wire.error_from(response)
            reason = f"answered {response.status_code}"
        else:
            delay = self.retry.delay_after_error(call.idempotent, attempt)
            if delay is None:
                raise ConnectionFailed(
                    "ConnectionFailed", f"{type(error).__name__}: {error}"
                ) from error
            reason = f"could not reach {self.base_url} ({error or type(error).__name__})"
        # Why it waits, and for how long at most: ``roomline call`` prints these lines.
        log.info(
            "%s %s; trying again in %.1f s (try %d of %d; at most %.1f s more of waiting "
            "before giving up)",
            call.workflow,
            reason,
            delay,
            attempt + 1,
            self.retry.attempts,
            self.retry.longest_wait(attempt),
        )
        return delay
