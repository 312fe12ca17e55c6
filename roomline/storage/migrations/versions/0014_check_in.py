"""Check-in at the door: per-space rules, and the check-in, release and early end of
each reservation (issue 18).

Spaces get ``check_in_required`` (off), ``check_in_opens_minutes`` (15) and
``auto_release_minutes`` (10; 0 never releases); existing spaces take the defaults, so
nothing is released until a space asks for check-in. Reservations get who checked in
and when, when they were released, and when they were ended early. A partial index on
the start of active reservations nobody checked into keeps the release job's query
small however long the history grows.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

AWAITING = "status = 'Processed' AND checked_in_at IS NULL"


def upgrade() -> None:
    # Plain ADD COLUMNs, in place on both databases (a batch copy of SQLite's tables
    # would drop the reservations' no-overlap triggers).
    op.add_column(
        "spaces",
        sa.Column("check_in_required", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    op.add_column(
        "spaces",
        sa.Column("check_in_opens_minutes", sa.Integer, nullable=False, server_default="15"),
    )
    op.add_column(
        "spaces",
        sa.Column("auto_release_minutes", sa.Integer, nullable=False, server_default="10"),
    )
    op.add_column("reservations", sa.Column("checked_in_at", UTCDateTime, nullable=True))
    op.add_column("reservations", sa.Column("checked_in_by", sa.String(255), nullable=True))
    op.add_column("reservations", sa.Column("released_at", UTCDateTime, nullable=True))
    op.add_column("reservations", sa.Column("ended_at", UTCDateTime, nullable=True))
    op.create_index(
        "ix_reservations_awaiting_check_in",
        "reservations",
        ["start_time"],
        sqlite_where=sa.text(AWAITING),
        postgresql_where=sa.text(AWAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_reservations_awaiting_check_in", table_name="reservations")
    for column in ("ended_at", "released_at", "checked_in_by", "checked_in_at"):
        op.drop_column("reservations", column)
    with op.batch_alter_table("spaces") as batch:
        for column in ("auto_release_minutes", "check_in_opens_minutes", "check_in_required"):
            batch.drop_column(column)
