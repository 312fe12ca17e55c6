"""Recurring reservations: the series table, and each occurrence's series on its reservation.

Occurrences stay ordinary rows of ``reservations`` (the no-overlap triggers and the
exclusion constraint guard them as any other); ``series_id`` names their series and
``series_exception`` marks one changed or cancelled on its own. The columns are added in
place (``ALTER TABLE ... ADD COLUMN``): rebuilding a table of millions of reservations, as
a batch migration would on SQLite, would take minutes and drop its triggers.

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import UTCDateTime

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("space_id", sa.String(255), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("applicant_id", sa.String(255), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False, server_default=""),
        sa.Column("rrule", sa.String(1000), nullable=False),
        sa.Column("exdates", sa.Text, nullable=False, server_default="[]"),
        sa.Column("first_start", UTCDateTime, nullable=False),
        sa.Column("first_end", UTCDateTime, nullable=False),
        sa.Column("skipped", sa.Text, nullable=False, server_default="[]"),
        sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_series_key_external_id",
        "series",
        ["api_key_id", "external_id"],
        unique=True,
        sqlite_where=sa.text("external_id != ''"),
        postgresql_where=sa.text("external_id != ''"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # Alembic adds a foreign key on SQLite only by rebuilding the table; SQLite itself
        # takes one in ADD COLUMN when the column defaults to NULL.
        op.execute("ALTER TABLE reservations ADD COLUMN series_id INTEGER REFERENCES series (id)")
    else:
        op.add_column("reservations", sa.Column("series_id", sa.Integer, nullable=True))
        op.create_foreign_key(
            "fk_reservations_series_id_series", "reservations", "series", ["series_id"], ["id"]
        )
    op.add_column(
        "reservations",
        sa.Column("series_exception", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_reservations_series_start", "reservations", ["series_id", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_reservations_series_start", "reservations")
    for column in ("series_exception", "series_id"):
        op.execute(f"ALTER TABLE reservations DROP COLUMN {column}")
    op.drop_index("uq_series_key_external_id", "series")
    op.drop_table("series")
