"""Calendar feeds: a secret ``/feeds/{token}.ics`` per space or applicant (issue 15).

Only the token's HMAC is stored. An index on (applicant_id, start_time) lets an
applicant's feed read their reservations without scanning every space's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Constraint names come from the metadata's naming convention, as in 0001.
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "space_id",
            sa.String(255),
            sa.ForeignKey("spaces.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "applicant_id",
            sa.String(255),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("name", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.CheckConstraint("(space_id IS NULL) <> (applicant_id IS NULL)", name="one_scope"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_reservations_applicant_start", "reservations", ["applicant_id", "start_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_reservations_applicant_start", table_name="reservations")
    op.drop_table("calendar_feeds")
