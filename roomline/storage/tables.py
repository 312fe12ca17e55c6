"""The database schema, as SQLAlchemy Core tables (migrations in ``migrations/``).

Instants are stored in UTC: ``timestamptz`` on PostgreSQL, fixed-width ISO text on SQLite
(which sorts and compares correctly). A reservation stores its blocked interval
(``blocked_start``/``blocked_end``) so the database can index it and, on PostgreSQL,
guard it with an exclusion constraint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are never stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite needs exactly INTEGER for an AUTOINCREMENT rowid alias; PostgreSQL gets a bigint
# identity backed by a sequence. Both never reuse a number.
ReservationId = BigInteger().with_variant(Integer(), "sqlite")
# The largest id either database can hold (both are 64-bit signed); a number past it in a
# query cannot match anything and SQLite cannot even bind it.
LARGEST_ID = 2**63 - 1
# The same for ids in Integer columns (feeds, webhook subscriptions): 32-bit on PostgreSQL.
LARGEST_SMALL_ID = 2**31 - 1

spaces = Table(
    "spaces",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("description", String(2000), nullable=False, server_default=""),
    Column("time_zone", String(64), nullable=True),
    Column("preparation_minutes", Integer, nullable=False, server_default="0"),
    Column("cleanup_minutes", Integer, nullable=False, server_default="0"),
    Column("capacity", Integer, nullable=True),
    Column("bookable", Boolean, nullable=False, server_default=text("true")),
    Column("building", String(255), nullable=True),
    Column("floor", String(64), nullable=True),
    # Short tags joined by commas, sorted ("projector,video"); NULL: none.
    Column("features", String(1100), nullable=True),
    # Check-in at the door (domain/checkin.py).
    Column("check_in_required", Boolean, nullable=False, server_default=text("false")),
    Column("check_in_opens_minutes", Integer, nullable=False, server_default="15"),
    Column("auto_release_minutes", Integer, nullable=False, server_default="10"),
    CheckConstraint("preparation_minutes >= 0", name="preparation_not_negative"),
    CheckConstraint("cleanup_minutes >= 0", name="cleanup_not_negative"),
)

people = Table(
    "people",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("name", String(500), nullable=False, server_default=""),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    # HMAC-SHA256 of the secret under the instance's key (see ``instance_secrets``).
    Column("secret_hash", String(64), nullable=False, unique=True),
    # JSON list of workflow names the key may call; NULL means all of them.
    Column("workflows", Text, nullable=True),
    Column("ip_allow", Text, nullable=True),
    Column("daily_quota", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

instance_secrets = Table(
    "instance_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
)

# Where each piece of background work has got to (SPEC §9), by name: the newest log
# cursor a job has handled, say. A job claims its row FOR UPDATE (on SQLite its write
# transaction is the claim), so two workers never do the same step twice.
job_state = Table(
    "job_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("cursor", BigInteger, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Signed-in sessions of the web view: the cookie names one by a random id, stored here
# only as its SHA-256, and signing out deletes the row, which ends every copy of the
# cookie. ``admin_token_hmac`` ties the session to the token it was opened with.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("admin_token_hmac", String(64), nullable=False),
    Column("signed_in_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False, index=True),
)

# One row (id = 1) in demo mode: the clock every worker reads. ``pinned_at`` freezes it;
# otherwise it runs at system time plus ``offset_seconds``.
clock = Table(
    "clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pinned_at", UTCDateTime, nullable=True),
    Column("offset_seconds", BigInteger, nullable=False, server_default="0"),
)

# A recurring reservation (SPEC §7): the rule it was made from. Its occurrences are
# ordinary reservations naming it in ``series_id``; ``skipped`` is the JSON list of the
# occurrences its create could not book, kept to answer a repeated create the same.
series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", String(255), ForeignKey("spaces.id"), nullable=False),
    Column("applicant_id", String(255), ForeignKey("people.id"), nullable=False),
    Column("description", String(2000), nullable=False, server_default=""),
    Column("rrule", String(1000), nullable=False),
    Column("exdates", Text, nullable=False, server_default="[]"),
    Column("first_start", UTCDateTime, nullable=False),
    Column("first_end", UTCDateTime, nullable=False),
    Column("skipped", Text, nullable=False, server_default="[]"),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    Column("external_id", String(255), nullable=False, server_default=""),
    Column("request_fingerprint", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)
Index(
    "uq_series_key_external_id",
    series.c.api_key_id,
    series.c.external_id,
    unique=True,
    sqlite_where=series.c.external_id != "",
    postgresql_where=series.c.external_id != "",
)

reservations = Table(
    "reservations",
    metadata,
    Column("ultimo_id", ReservationId, Identity(), primary_key=True, autoincrement=True),
    Column("space_id", String(255), ForeignKey("spaces.id"), nullable=False),
    Column("applicant_id", String(255), ForeignKey("people.id"), nullable=False),
    Column("description", String(2000), nullable=False, server_default=""),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime, nullable=False),
    Column("preparation_minutes", Integer, nullable=False),
    Column("cleanup_minutes", Integer, nullable=False),
    Column("blocked_start", UTCDateTime, nullable=False),
    Column("blocked_end", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    # Idempotency of create: (api_key_id, external_id) is unique when external_id is set,
    # and ``request_fingerprint`` tells an identical repeat from a conflicting one.
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    Column("external_id", String(255), nullable=False, server_default=""),
    Column("request_fingerprint", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The series an occurrence belongs to; ``series_exception`` once it was changed or
    # cancelled on its own (the Ultimo workflows), after which series edits leave it be.
    Column("series_id", Integer, ForeignKey("series.id"), nullable=True),
    Column("series_exception", Boolean, nullable=False, server_default=text("false")),
    # At the door: who (the key's name) checked in and when; when it was released for
    # nobody checking in (status Cancelled), or ended early (end_time is then that time).
    Column("checked_in_at", UTCDateTime, nullable=True),
    Column("checked_in_by", String(255), nullable=True),
    Column("released_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    CheckConstraint("end_time > start_time", name="end_after_start"),
    CheckConstraint("status IN ('Processed', 'Cancelled')", name="known_status"),
    sqlite_autoincrement=True,
)

Index("ix_reservations_space_blocked", reservations.c.space_id, reservations.c.blocked_start)
Index("ix_reservations_space_start", reservations.c.space_id, reservations.c.start_time)
Index("ix_reservations_series_start", reservations.c.series_id, reservations.c.start_time)
# Finding a room asks, per space, for the latest active block starting before a time and
# where it ends: this index answers that from the index alone (storage/availability.py).
Index(
    "ix_reservations_active_blocks",
    reservations.c.space_id,
    reservations.c.blocked_start,
    reservations.c.blocked_end,
    sqlite_where=text("status = 'Processed'"),
    postgresql_where=text("status = 'Processed'"),
)
# The release job's candidates: active reservations nobody checked into, by start.
Index(
    "ix_reservations_awaiting_check_in",
    reservations.c.start_time,
    sqlite_where=text("status = 'Processed' AND checked_in_at IS NULL"),
    postgresql_where=text("status = 'Processed' AND checked_in_at IS NULL"),
)
Index(
    "uq_reservations_key_external_id",
    reservations.c.api_key_id,
    reservations.c.external_id,
    unique=True,
    sqlite_where=reservations.c.external_id != "",
    postgresql_where=reservations.c.external_id != "",
)

# Calendar feeds (``/feeds/{token}.ics``): a secret URL per space or per applicant. Only
# HMAC-SHA256(instance key, token) is stored, as for API keys; exactly one of space_id
# and applicant_id is set. Removing the space or person removes its feeds.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("space_id", String(255), ForeignKey("spaces.id", ondelete="CASCADE"), nullable=True),
    Column("applicant_id", String(255), ForeignKey("people.id", ondelete="CASCADE"), nullable=True),
    Column("name", String(255), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    CheckConstraint("(space_id IS NULL) <> (applicant_id IS NULL)", name="one_scope"),
    sqlite_autoincrement=True,
)
# An applicant's feed reads their reservations by start time (spaces have their own index).
Index("ix_reservations_applicant_start", reservations.c.applicant_id, reservations.c.start_time)

# Shared request limits (services/limits.py), so every worker and host counts together.
# A moving-window limit keeps one row per counted request inside its window; a daily
# quota keeps one counter per key and UTC day, raised with an atomic UPSERT.
rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column("id", ReservationId, primary_key=True, autoincrement=True),
    Column("limit_key", String(128), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)
Index("ix_rate_limit_hits_key_at", rate_limit_hits.c.limit_key, rate_limit_hits.c.at_ms)

quota_counters = Table(
    "quota_counters",
    metadata,
    Column("limit_key", String(128), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),  # epoch seconds of the UTC day
    Column("hits", Integer, nullable=False),
)

# The audit trail: one row per reservation write, in that write's transaction. ``before``
# and ``after`` are JSON snapshots (NULL before a create). It is also the log of changes
# (SPEC §8): ``id`` is the cursor the change feed, streams and webhooks follow.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ReservationId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("workflow", String(64), nullable=True),
    Column("ultimo_id", BigInteger, nullable=False),
    Column("key_name", String(255), nullable=True),
    Column("client_address", String(64), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("before_state", Text, nullable=True),
    Column("after_state", Text, nullable=False),
    Column("space_id", String(255), nullable=True),
    sqlite_autoincrement=True,
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_ultimo_id", audit_log.c.ultimo_id)
Index("ix_audit_log_key_name", audit_log.c.key_name)
Index("ix_audit_log_space_id_id", audit_log.c.space_id, audit_log.c.id)

# Webhooks (docs/webhooks.md). A subscription's ``secret`` (whsec_...) is stored as it is,
# since every delivery is signed with it; ``start_cursor`` is the last change of the log
# before it was made: it is told of the changes after it. ``event_types`` and
# ``space_ids`` are JSON lists ([] spaces: every space).
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", Text, nullable=False),
    Column("space_ids", Text, nullable=False, server_default="[]"),
    Column("secret", String(128), nullable=False),
    # The secret a rotation replaced, which also signs deliveries until it expires.
    Column("previous_secret", String(128), nullable=True),
    Column("previous_secret_until", UTCDateTime, nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_reason", String(500), nullable=True),
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("start_cursor", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

# One message to one subscription: a change of the log (``cursor``) or a ping. Its
# ``message_id`` is the ``webhook-id`` of every attempt and replay, so receivers can drop
# repeats; ``payload`` is the exact body signed and sent. A sender holds a delivery while
# ``lease_until`` lies ahead (set and committed before sending), so one worker at a time
# attempts it and a killed worker's delivery is taken up again once the lease expires.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ReservationId, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_type", String(64), nullable=False),
    Column("cursor", BigInteger, nullable=True),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt_count", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "status IN ('pending', 'succeeded', 'failed', 'disabled')", name="known_status"
    ),
    sqlite_autoincrement=True,
)
# A change is delivered to a subscription once, even if the fan-out ran twice.
Index(
    "uq_webhook_deliveries_subscription_cursor",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.cursor,
    unique=True,
)
Index(
    "ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at
)

# Every attempt to send a delivery: the HTTP status or why there was none, how long it
# took, and the start of the receiver's answer (at most 1 KiB).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", ReservationId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        ReservationId,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=False, server_default=""),
    # The lease that made the attempt (each attempt has a lease of its own): a round whose
    # commit was not confirmed is recorded again only for what it did not commit.
    Column("lease_id", String(32), nullable=True),
    sqlite_autoincrement=True,
)
Index("ix_webhook_attempts_delivery_id", webhook_attempts.c.delivery_id, webhook_attempts.c.id)
# Reports read the cancel, check-in and release entries of a range of reservations from
# this index alone (storage/reports.py), never the create entries' JSON.
Index("ix_audit_log_action_ultimo_id", audit_log.c.action, audit_log.c.ultimo_id, audit_log.c.at)
