"""Spaces get building, floor and features; an index for finding free rooms.

``ix_reservations_active_blocks`` holds (space_id, blocked_start, blocked_end) of active
reservations only, so "the latest active block of this space starting before T, and its
end" is one seek read from the index alone, for every space of a free-space search.
Adding nullable columns and an index works in place on SQLite and PostgreSQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'Processed'")


def upgrade() -> None:
    op.add_column("spaces", sa.Column("building", sa.String(255), nullable=True))
    op.add_column("spaces", sa.Column("floor", sa.String(64), nullable=True))
    op.add_column("spaces", sa.Column("features", sa.String(1100), nullable=True))
    op.create_index(
        "ix_reservations_active_blocks",
        "reservations",
        ["space_id", "blocked_start", "blocked_end"],
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_reservations_active_blocks", table_name="reservations")
    with op.batch_alter_table("spaces") as batch:
        batch.drop_column("features")
        batch.drop_column("floor")
        batch.drop_column("building")
