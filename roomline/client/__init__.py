"""A typed Python client for the Ultimo REST connector "Reservations" workflows.

Works against roomline and against a real Ultimo environment; it imports nothing of
roomline's server, only httpx (and standardwebhooks, for verify_webhook)::

    from roomline.client import UltimoClient, SpaceNotAvailable

    with UltimoClient("https://example.ultimo.net", api_key) as ultimo:
        ultimo_id = ultimo.create_reservation(
            space_id="C-25", start=start, end=end, applicant_id="ULTIMO", external_id="m-1"
        )
        for reservation in ultimo.get_reservations("C-25", start, end):
            print(reservation.ultimo_id, reservation.start)

``AsyncUltimoClient`` offers the same calls, awaitable. ``ManageClient`` and
``AsyncManageClient`` administer webhooks, calendar feeds and utilisation reports with the
admin token. ``verify_webhook`` checks the signature of a webhook roomline sent
(docs/webhooks.md).
"""

from roomline.client.asynchronous import AsyncManageClient, AsyncUltimoClient
from roomline.client.booking import (
    BookedReservation,
    ChangeEvent,
    ChangePage,
    FreeSpace,
    ScheduleItem,
    Series,
    SeriesBooking,
    SeriesOccurrence,
    SkippedOccurrence,
    Slot,
    SpaceSchedule,
)
from roomline.client.errors import (
    ConnectionFailed,
    InvalidResponse,
    RateLimited,
    ReservationInPast,
    SpaceNotAvailable,
    UltimoError,
    Unauthorized,
)
from roomline.client.models import Reservation
from roomline.client.retry import NO_RETRY, RetryPolicy
from roomline.client.sync import ManageClient, UltimoClient
from roomline.client.webhooks import InvalidWebhook, WebhookEvent, verify_webhook
from roomline.client.wire import DOCUMENTED_APPLICATION_ELEMENT_IDS

__all__ = [
    "DOCUMENTED_APPLICATION_ELEMENT_IDS",
    "NO_RETRY",
    "AsyncManageClient",
    "AsyncUltimoClient",
    "BookedReservation",
    "ChangeEvent",
    "ChangePage",
    "ConnectionFailed",
    "FreeSpace",
    "InvalidResponse",
    "InvalidWebhook",
    "ManageClient",
    "RateLimited",
    "Reservation",
    "ReservationInPast",
    "RetryPolicy",
    "ScheduleItem",
    "Series",
    "SeriesBooking",
    "SeriesOccurrence",
    "SkippedOccurrence",
    "Slot",
    "SpaceNotAvailable",
    "SpaceSchedule",
    "UltimoClient",
    "UltimoError",
    "Unauthorized",
    "WebhookEvent",
    "verify_webhook",
]
