"""The audit trail becomes the log of changes every reader follows (SPEC §8).

Each entry gets the space it concerns, so a change feed for one space reads its entries
from an index (space, cursor) instead of every entry's JSON. Existing entries take the
space from their ``after`` snapshot. ``job_state`` records where each piece of
background work has got to (SPEC §9).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("space_id", sa.String(255), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE audit_log SET space_id = (after_state::json ->> 'space_id')")
    else:
        op.execute("UPDATE audit_log SET space_id = json_extract(after_state, '$.space_id')")
    op.create_index("ix_audit_log_space_id_id", "audit_log", ["space_id", "id"])
    op.create_table(
        "job_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.BigInteger, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_state")
    op.drop_index("ix_audit_log_space_id_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("space_id")
