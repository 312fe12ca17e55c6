"""Every rejection roomline can answer with, each with a stable ``code``.

The tree::

    RoomlineError
    ├── InvalidRequest                      a request that cannot be read as asked
    │   ├── InvalidBody                     body is not a JSON object
    │   ├── RequiredParameterMissing
    │   ├── InvalidParameter                wrong type, empty, too long, control characters
    │   ├── DuplicateParameter              one property given twice (e.g. SpaceId and spaceid)
    │   ├── UnknownParameter                strict mode: a property the contract does not list
    │   ├── WrongParameterCasing            strict mode: a property spelled with other casing
    │   ├── InvalidApplicationElementId
    │   ├── UnsupportedMediaType            strict mode: a body not sent as application/json
    │   ├── InvalidDateTime
    │   ├── InvalidTimeSpan                 end not after start, From not before Till
    │   ├── WindowTooLarge
    │   ├── InvalidRecurrence               an RRULE that does not end, repeats too often, yields
    │   │                                   nothing, or uses what series do not support
    │   ├── InvalidInterval                 a schedule interval or step that does not fit the window
    │   ├── TooManySpaces                   a schedule asked for more than 100 spaces
    │   ├── ImportRejected                  an import file with bad rows (nothing imported)
    │   ├── UnknownEventType                a webhook subscribed to an event type roomline lacks
    │   ├── InvalidWebhookUrl               a webhook URL that is not http(s) with a host
    │   ├── WebhookTargetNotAllowed         a webhook URL resolving to a refused address (SSRF)
    │   └── FixtureRejected                 a demo fixture with problems (demo refuses to start)
    ├── ReferenceNotFound                   the body names something that does not exist
    │   ├── UnknownSpace
    │   ├── UnknownApplicant
    │   └── UnknownReservation
    ├── RuleViolation                       the request is well-formed but breaks a booking rule
    │   ├── SpaceNotAvailable        1015   blocked intervals would overlap
    │   ├── ReservationInPast        1166   change or cancel of a reservation that has ended
    │   ├── SpaceNotBookable
    │   ├── StartTimeInPast
    │   ├── EndTimeInPast
    │   ├── ReservationStarted              a running reservation's start cannot move
    │   ├── ReservationCancelled            a cancelled reservation cannot be moved
    │   ├── ReservationReleased             released for no check-in: cannot check in or change
    │   ├── ReservationNotRunning           ending early a reservation that has not started
    │   ├── CheckInNotOpen                  check-in before its window opens
    │   ├── CheckInClosed                   check-in after the reservation ended or was due
    │   │                                   for release
    │   └── DuplicateExternalId
    ├── NotFound                            no such path
    │   ├── UnknownWorkflow
    │   └── RecordNotFound                  no space, person, key, reservation, series or feed by that id
    ├── Conflict                            management: the change collides with stored data
    │   ├── AlreadyExists                   a space, person or key with that id or name exists
    │   ├── StillReferenced                 removing a space or person reservations name
    │   └── WebhookDisabled                 replaying a delivery of a disabled subscription
    ├── Gone                                what was asked for is no longer kept
    │   └── CursorExpired                   a change-feed cursor older than the log keeps
    ├── MethodNotAllowed
    ├── ServiceUnavailable                  the database did not answer in time
    ├── AccessDenied
    │   ├── MissingApiKey                   absent, unknown or revoked key (one body for all)
    │   ├── WorkflowNotAllowed
    │   ├── AddressNotAllowed               the key's IP allow-list excludes the caller
    │   ├── AdminTokenRequired
    │   └── AdminTokenNotAKey               the admin token given where an API key belongs
    └── LimitExceeded
        ├── PayloadTooLarge
        ├── HeadersTooLarge                 request headers over the limit (431)
        └── TooManyRequests

HTTP status codes and body shapes are chosen at the edge (``compat/ultimo`` for the wire
API, ``api`` for the rest), never here.
"""

from __future__ import annotations

ALLOWED_TIME_FORMATS = (
    "yyyy-MM-dd HH:mm:ss (wall-clock time in the space's time zone), "
    "yyyy-MM-ddTHH:mm:ssZ (UTC), or ISO 8601 with a T, optional fractional seconds "
    "and an optional offset such as +02:00"
)


class RoomlineError(Exception):
    """Base of every expected rejection; ``code`` is stable, ``message`` is for people.

    ``details`` lists the parts of a request that failed where one request can fail in
    several places at once (each occurrence of a series, say); roomline's own API answers
    them beside the message, the Ultimo wire never does.
    """

    code: str = "Error"
    details: list[dict[str, object]] | None = None

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if details is not None:
            self.details = details


class InvalidRequest(RoomlineError):
    code = "InvalidRequest"


class InvalidBody(InvalidRequest):
    code = "InvalidBody"


class RequiredParameterMissing(InvalidRequest):
    code = "RequiredParameterMissing"


class InvalidParameter(InvalidRequest):
    code = "InvalidParameter"


class DuplicateParameter(InvalidRequest):
    code = "DuplicateParameter"


class UnknownParameter(InvalidRequest):
    code = "UnknownParameter"


class WrongParameterCasing(InvalidRequest):
    code = "WrongParameterCasing"


class InvalidApplicationElementId(InvalidRequest):
    code = "InvalidApplicationElementId"


class UnsupportedMediaType(InvalidRequest):
    code = "UnsupportedMediaType"


class InvalidDateTime(InvalidRequest):
    code = "InvalidDateTime"


class InvalidTimeSpan(InvalidRequest):
    code = "InvalidTimeSpan"


class WindowTooLarge(InvalidRequest):
    code = "WindowTooLarge"


class InvalidRecurrence(InvalidRequest):
    code = "InvalidRecurrence"


class InvalidInterval(InvalidRequest):
    code = "InvalidInterval"


class TooManySpaces(InvalidRequest):
    code = "TooManySpaces"


class UnknownEventType(InvalidRequest):
    code = "UnknownEventType"


class InvalidWebhookUrl(InvalidRequest):
    code = "InvalidWebhookUrl"


class WebhookTargetNotAllowed(InvalidRequest):
    code = "WebhookTargetNotAllowed"


class ImportRejected(InvalidRequest):
    """An import with bad rows; ``problems`` lists (line, reason), and nothing was stored."""

    code = "ImportRejected"

    def __init__(self, message: str, problems: list[tuple[int, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class FixtureRejected(InvalidRequest):
    """A ``roomline demo --fixture`` file with problems; ``problems`` lists each as
    "file: entry: reason", and nothing was loaded."""

    code = "FixtureRejected"

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class ReferenceNotFound(RoomlineError):
    code = "ReferenceNotFound"


class UnknownSpace(ReferenceNotFound):
    code = "UnknownSpace"

    @classmethod
    def named(cls, space_id: str) -> UnknownSpace:
        return cls(f"SpaceId {space_id!r} is not a known space.")


class UnknownApplicant(ReferenceNotFound):
    code = "UnknownApplicant"

    @classmethod
    def named(cls, applicant_id: str) -> UnknownApplicant:
        return cls(f"ApplicantId {applicant_id!r} is not a known person.")


class UnknownReservation(ReferenceNotFound):
    code = "UnknownReservation"


class RuleViolation(RoomlineError):
    code = "RuleViolation"


class SpaceNotAvailable(RuleViolation):
    """Ultimo's documented conflict answer."""

    code = "1015"

    def __init__(
        self, space_description: str, details: list[dict[str, object]] | None = None
    ) -> None:
        super().__init__(
            "Room reservation cannot be requested or processed.\r\n"
            f"Cause: {space_description} is not available.",
            details,
        )
        self.space_description = space_description


class ReservationInPast(RuleViolation):
    """Ultimo's documented answer to changing or cancelling an ended reservation."""

    code = "1166"

    def __init__(self) -> None:
        super().__init__(
            "Room reservation cannot be modified.\r\nCause: Room reservation is in the past."
        )


class SpaceNotBookable(RuleViolation):
    code = "SpaceNotBookable"


class StartTimeInPast(RuleViolation):
    code = "StartTimeInPast"


class EndTimeInPast(RuleViolation):
    code = "EndTimeInPast"


class ReservationStarted(RuleViolation):
    code = "ReservationStarted"


class ReservationCancelled(RuleViolation):
    code = "ReservationCancelled"


class ReservationReleased(RuleViolation):
    code = "ReservationReleased"


class ReservationNotRunning(RuleViolation):
    code = "ReservationNotRunning"


class CheckInNotOpen(RuleViolation):
    code = "CheckInNotOpen"


class CheckInClosed(RuleViolation):
    code = "CheckInClosed"


class DuplicateExternalId(RuleViolation):
    code = "DuplicateExternalId"


class NotFound(RoomlineError):
    code = "NotFound"


class UnknownWorkflow(NotFound):
    code = "UnknownWorkflow"


class RecordNotFound(NotFound):
    code = "RecordNotFound"


class Conflict(RoomlineError):
    code = "Conflict"


class AlreadyExists(Conflict):
    code = "AlreadyExists"


class StillReferenced(Conflict):
    code = "StillReferenced"


class WebhookDisabled(Conflict):
    code = "WebhookDisabled"


class Gone(RoomlineError):
    code = "Gone"


class CursorExpired(Gone):
    """The changes after a cursor have been pruned: the reader must start again."""

    code = "CursorExpired"


class MethodNotAllowed(RoomlineError):
    code = "MethodNotAllowed"


class ServiceUnavailable(RoomlineError):
    code = "ServiceUnavailable"


class AccessDenied(RoomlineError):
    code = "AccessDenied"


class MissingApiKey(AccessDenied):
    """Ultimo answers absent, unknown and revoked keys alike, revealing nothing."""

    code = "MissingApiKey"

    def __init__(self) -> None:
        super().__init__("Missing API key")


class WorkflowNotAllowed(AccessDenied):
    code = "WorkflowNotAllowed"


class AddressNotAllowed(AccessDenied):
    code = "AddressNotAllowed"


class AdminTokenRequired(AccessDenied):
    code = "AdminTokenRequired"


class AdminTokenNotAKey(AccessDenied):
    """A door panel given the admin token: it needs an Ultimo API key (get and create)."""

    code = "AdminTokenNotAKey"

    def __init__(self) -> None:
        super().__init__(
            "The admin token cannot be used on a panel; use an API key with get, create, "
            "checkin and changes (roomline keys create --name <panel> --workflows "
            "get,create,checkin,changes)."
        )


class LimitExceeded(RoomlineError):
    code = "LimitExceeded"


class PayloadTooLarge(LimitExceeded):
    code = "PayloadTooLarge"


class HeadersTooLarge(LimitExceeded):
    code = "HeadersTooLarge"


class TooManyRequests(LimitExceeded):
    code = "TooManyRequests"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
