"""The asynchronous client: the same calls as ``UltimoClient``, awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

import httpx

from roomline.client import booking, manage, wire
from roomline.client.booking import BookedReservation, Series, SeriesBooking
from roomline.client.models import Reservation
from roomline.client.options import ClientOptions
from roomline.client.retry import TRANSIENT_ERRORS, RetryPolicy
from roomline.client.wire import Call, TimeValue


class _Sender:
    """Sends calls with retries (``RetryPolicy``); closes the HTTP client it made."""

    def __init__(
        self,
        options: ClientOptions,
        http_client: httpx.AsyncClient | None,
        timeout: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.options = options
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._sleep = sleep

    async def _send(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    call.method,
                    self.options.url(call),
                    json=call.body,
                    params=call.params,
                    headers=self.options.headers(call),
                    timeout=httpx.USE_CLIENT_DEFAULT if call.timeout is None else call.timeout,
                )
            except TRANSIENT_ERRORS as exc:
                delay = self.options.delay_or_raise(call, attempt, error=exc)
            else:
                if response.is_success:
                    return response
                delay = self.options.delay_or_raise(call, attempt, response=response)
            await self._sleep(delay)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncUltimoClient(_Sender):
    """Book, move, cancel and list reservations on roomline or a real Ultimo environment.

    ``application_element_ids`` overrides the documented GUID per workflow (None: send
    none); ``retry`` says how to retry (see ``RetryPolicy``). Use it as a context manager,
    or await ``aclose()``, unless you pass your own ``http_client``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        application_element_ids: Mapping[str, str | None] | None = None,
        send_application_element_id: bool = True,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        options = ClientOptions.build(
            base_url, api_key, application_element_ids, send_application_element_id, retry
        )
        super().__init__(options, http_client, timeout, sleep)

    async def create_reservation(
        self,
        *,
        space_id: str,
        start: TimeValue,
        end: TimeValue,
        applicant_id: str,
        description: str = "",
        external_id: str = "",
    ) -> str:
        """Book ``space_id`` over [start, end); return the new reservation's UltimoId.

        Aware datetimes are sent in UTC, naive ones as wall-clock time in the space's
        zone. With an ``external_id`` a repeated call returns the same UltimoId, so it
        is retried on transient failures.
        """
        call = wire.create_call(
            space_id=space_id,
            start=start,
            end=end,
            applicant_id=applicant_id,
            description=description,
            external_id=external_id,
        )
        return wire.created_id(await self._send(call))

    async def update_reservation(
        self, ultimo_id: str | int, *, start: TimeValue | None = None, end: TimeValue | None = None
    ) -> None:
        """Move, shorten or extend a reservation; a time left out stays as it is."""
        await self._send(wire.update_call(ultimo_id, start, end))

    async def cancel_reservation(self, ultimo_id: str | int) -> None:
        """Cancel a reservation (cancelling it again succeeds)."""
        await self._send(wire.cancel_call(ultimo_id))

    async def get_reservations(
        self, space_id: str, start: TimeValue, end: TimeValue
    ) -> list[Reservation]:
        """Return the space's reservations overlapping [start, end) (From, Till)."""
        return wire.reservations(await self._send(wire.get_call(space_id, start, end)))

    async def get_reservation(self, ultimo_id: str | int) -> BookedReservation:
        """Return one reservation, active or cancelled, in roomline's own shape (roomline
        only; grant ``get``)."""
        return booking.reservation(await self._send(booking.reservation_call(ultimo_id)))

    async def check_in(self, ultimo_id: str | int) -> BookedReservation:
        """Check in at the door; a second check-in answers the first's time (roomline
        only; grant ``checkin``). Refusals: ``CheckInNotOpen``, ``CheckInClosed``,
        ``ReservationReleased``, ``ReservationCancelled`` (as ``UltimoError.code``)."""
        return booking.reservation(await self._send(booking.check_in_call(ultimo_id)))

    async def end_early(self, ultimo_id: str | int) -> BookedReservation:
        """End a running reservation now; its cleanup follows (grant ``checkin``)."""
        return booking.reservation(await self._send(booking.end_early_call(ultimo_id)))

    async def extend(self, ultimo_id: str | int, minutes: int) -> BookedReservation:
        """Move a reservation's end ``minutes`` later if the room is free for it; else
        ``SpaceNotAvailable`` with the next reservation in ``.details`` (grant ``checkin``)."""
        return booking.reservation(await self._send(booking.extend_call(ultimo_id, minutes)))

    async def create_series(
        self,
        *,
        space_id: str,
        applicant_id: str,
        start: TimeValue,
        end: TimeValue,
        rrule: str,
        description: str = "",
        exdates: Sequence[TimeValue] = (),
        external_id: str = "",
        on_conflict: str = "fail",
        preview: bool = False,
    ) -> SeriesBooking:
        """Book a recurring reservation from its first occurrence [start, end) and an RFC
        5545 ``rrule`` (roomline only; grant ``series``).

        ``on_conflict`` "fail" books nothing if any occurrence conflicts (``SpaceNotAvailable``
        with ``.details`` listing them); "skip" books the free ones. ``preview`` books
        nothing and shows what would be booked and skipped.
        """
        call = booking.create_series_call(
            space_id=space_id,
            applicant_id=applicant_id,
            start=start,
            end=end,
            rrule=rrule,
            description=description,
            exdates=exdates,
            external_id=external_id,
            on_conflict=on_conflict,
            preview=preview,
        )
        return booking.series_booking(await self._send(call))

    async def get_series(self, series_id: int) -> Series:
        """Return a series with every occurrence, its status and its exceptions."""
        return booking.series(await self._send(booking.series_call(series_id)))

    async def update_series(
        self,
        series_id: int,
        *,
        from_: TimeValue | None = None,
        time_of_day: str | None = None,
        duration_minutes: int | None = None,
        description: str | None = None,
        on_conflict: str = "fail",
    ) -> SeriesBooking:
        """Change the time of day (``"HH:MM"``), duration or description of every occurrence
        from the one starting at ``from_`` on, leaving exceptions alone."""
        call = booking.update_series_call(
            series_id,
            from_=from_,
            time_of_day=time_of_day,
            duration_minutes=duration_minutes,
            description=description,
            on_conflict=on_conflict,
        )
        return booking.series_booking(await self._send(call))

    async def cancel_series(self, series_id: int, *, from_: TimeValue | None = None) -> Series:
        """Cancel every occurrence from the one starting at ``from_`` on (default: every one
        not yet ended), leaving exceptions alone."""
        return booking.series(await self._send(booking.cancel_series_call(series_id, from_=from_)))

    # Finding a room (issue 17; roomline only, grant ``find``).

    async def find_free_spaces(
        self,
        start: TimeValue,
        end: TimeValue,
        *,
        capacity: int | None = None,
        features: Sequence[str] | str | None = None,
        building: str | None = None,
        floor: str | None = None,
        limit: int | None = None,
    ) -> list[booking.FreeSpace]:
        """Return the bookable spaces free over [start, end), smallest fitting first;
        naive times mean each space's own wall-clock time."""
        call = booking.free_spaces_call(
            start,
            end,
            capacity=capacity,
            features=features,
            building=building,
            floor=floor,
            limit=limit,
        )
        return booking.free_spaces(await self._send(call))

    async def get_schedule(
        self,
        start: TimeValue,
        end: TimeValue,
        *,
        space_ids: Sequence[str] | None = None,
        building: str | None = None,
        floor: str | None = None,
        interval: int = 30,
    ) -> list[booking.SpaceSchedule]:
        """Return each space's free/busy view over [start, end), ``interval`` minutes a
        character, with the reservations behind it."""
        call = booking.schedule_call(
            start, end, space_ids=space_ids, building=building, floor=floor, interval=interval
        )
        return booking.schedules(await self._send(call))

    async def suggest_slots(
        self,
        duration: int,
        earliest: TimeValue,
        latest: TimeValue,
        *,
        capacity: int | None = None,
        features: Sequence[str] | str | None = None,
        building: str | None = None,
        floor: str | None = None,
        step: int = 15,
        limit: int = 10,
    ) -> list[booking.Slot]:
        """Return the first free slots of ``duration`` minutes between earliest and latest."""
        call = booking.suggestions_call(
            duration,
            earliest,
            latest,
            capacity=capacity,
            features=features,
            building=building,
            floor=floor,
            step=step,
            limit=limit,
        )
        return booking.slots(await self._send(call))

    # The log of changes (roomline only, grant ``changes``).

    async def get_changes(
        self,
        *,
        after: str | int | None = None,
        space_id: str | None = None,
        limit: int | None = None,
        wait: float | None = None,
    ) -> booking.ChangePage:
        """Return the changes after ``after`` (a ``next`` of an earlier page; None: from the
        oldest kept), of one space if given; ``wait`` holds the call up to that many seconds
        while there is nothing new (long poll)."""
        call = booking.changes_call(after=after, space_id=space_id, limit=limit, wait=wait)
        return booking.change_page(await self._send(call))

    async def stream_changes(
        self, *, space_id: str | None = None, last_event_id: str | None = None
    ) -> AsyncIterator[booking.ChangeEvent]:
        """Yield changes live as they are committed, for ever. Without ``last_event_id``
        it starts with the next change; after a dropped connection it reconnects (as the
        retry policy allows) and resumes after the last change it yielded."""
        cursor = last_event_id
        call = booking.stream_call(space_id)
        attempt = 0
        while True:
            headers = booking.stream_headers(self.options.headers(call), cursor)
            try:
                async with self._http.stream(
                    "GET",
                    self.options.url(call),
                    params=call.params,
                    headers=headers,
                    timeout=call.timeout,
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        attempt += 1
                        await self._sleep(
                            self.options.delay_or_raise(call, attempt, response=response)
                        )
                        continue
                    attempt = 0
                    reader = booking.EventStreamReader()
                    async for line in response.aiter_lines():
                        event = reader.line(line)
                        if event is not None:
                            cursor = event.cursor
                            yield event
            except TRANSIENT_ERRORS as exc:
                attempt += 1
                await self._sleep(self.options.delay_or_raise(call, attempt, error=exc))


class AsyncManageClient(_Sender):
    """``ManageClient``'s calls, awaitable: webhook subscriptions, calendar feeds and
    utilisation reports (``/api/manage``, with ``ROOMLINE_ADMIN_TOKEN``)."""

    def __init__(
        self,
        base_url: str,
        admin_token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        options = manage.ManageOptions.for_admin(base_url, admin_token, retry)
        super().__init__(options, http_client, timeout, sleep)

    async def add_webhook(
        self, url: str, events: Sequence[str], *, spaces: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Subscribe ``url`` to event types; the answer holds the secret, shown once."""
        return manage.obj(await self._send(manage.add_webhook_call(url, events, spaces)))

    async def list_webhooks(self) -> list[dict[str, Any]]:
        return manage.objects(await self._send(manage.list_webhooks_call()))

    async def remove_webhook(self, subscription_id: int) -> dict[str, Any]:
        return manage.obj(await self._send(manage.remove_webhook_call(subscription_id)))

    async def webhook_deliveries(
        self, subscription_id: int, *, failed: bool = False, limit: int | None = None
    ) -> list[dict[str, Any]]:
        call = manage.deliveries_call(subscription_id, failed, limit)
        return manage.objects(await self._send(call))

    async def rotate_webhook_secret(
        self, subscription_id: int, *, keep_previous_hours: int = 24
    ) -> dict[str, Any]:
        """Give a subscription a new secret (in the answer, shown once); the one it
        replaces also signs deliveries for ``keep_previous_hours`` more."""
        call = manage.rotate_secret_call(subscription_id, keep_previous_hours)
        return manage.obj(await self._send(call))

    async def replay_delivery(self, delivery_id: int) -> dict[str, Any]:
        return manage.obj(await self._send(manage.replay_call(delivery_id)))

    async def ping_webhook(self, subscription_id: int) -> dict[str, Any]:
        return manage.obj(await self._send(manage.ping_call(subscription_id)))

    async def create_feed(
        self,
        *,
        space_id: str | None = None,
        applicant_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Create a calendar feed; the answer holds its secret ``url``, shown once."""
        call = manage.create_feed_call(space_id, applicant_id, name)
        return manage.obj(await self._send(call))

    async def list_feeds(self, *, space_id: str | None = None) -> list[dict[str, Any]]:
        return manage.objects(await self._send(manage.list_feeds_call(space_id)))

    async def revoke_feed(self, feed_id: int) -> dict[str, Any]:
        return manage.obj(await self._send(manage.revoke_feed_call(feed_id)))

    async def utilisation_report(
        self, first: date | str, till: date | str, *, group: str = "space"
    ) -> dict[str, Any]:
        call = manage.utilisation_call(first, till, group, "json")
        return manage.obj(await self._send(call))

    async def utilisation_csv(
        self, first: date | str, till: date | str, *, group: str = "space"
    ) -> str:
        return (await self._send(manage.utilisation_call(first, till, group, "csv"))).text
