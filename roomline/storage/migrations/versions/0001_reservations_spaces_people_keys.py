"""Reservations, spaces, people, API keys and the demo clock.

On PostgreSQL the no-overlap rule is an exclusion constraint: for active reservations of
one space, the blocked ranges ``[blocked_start, blocked_end)`` may not overlap.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import ReservationId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spaces",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("description", sa.String(2000), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("preparation_minutes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cleanup_minutes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("bookable", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.CheckConstraint("preparation_minutes >= 0", name="preparation_not_negative"),
        sa.CheckConstraint("cleanup_minutes >= 0", name="cleanup_not_negative"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False, server_default=""),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("workflows", sa.Text, nullable=True),
        sa.Column("ip_allow", sa.Text, nullable=True),
        sa.Column("daily_quota", sa.Integer, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    op.create_table(
        "clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pinned_at", UTCDateTime, nullable=True),
        sa.Column("offset_seconds", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "reservations",
        sa.Column("ultimo_id", ReservationId, sa.Identity(), primary_key=True, autoincrement=True),
        sa.Column("space_id", sa.String(255), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("applicant_id", sa.String(255), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False, server_default=""),
        sa.Column("start_time", UTCDateTime, nullable=False),
        sa.Column("end_time", UTCDateTime, nullable=False),
        sa.Column("preparation_minutes", sa.Integer, nullable=False),
        sa.Column("cleanup_minutes", sa.Integer, nullable=False),
        sa.Column("blocked_start", UTCDateTime, nullable=False),
        sa.Column("blocked_end", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("end_time > start_time", name="end_after_start"),
        sa.CheckConstraint("status IN ('Processed', 'Cancelled')", name="known_status"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reservations_space_blocked", "reservations", ["space_id", "blocked_start"])
    op.create_index("ix_reservations_space_start", "reservations", ["space_id", "start_time"])
    op.create_index(
        "uq_reservations_key_external_id",
        "reservations",
        ["api_key_id", "external_id"],
        unique=True,
        sqlite_where=sa.text("external_id != ''"),
        postgresql_where=sa.text("external_id != ''"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE reservations ADD CONSTRAINT ex_reservations_no_overlap "
            "EXCLUDE USING gist (space_id WITH =, "
            "tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
            "WHERE (status = 'Processed')"
        )


def downgrade() -> None:
    op.drop_table("reservations")
    op.drop_table("clock")
    op.drop_table("instance_secrets")
    op.drop_table("api_keys")
    op.drop_table("people")
    op.drop_table("spaces")
