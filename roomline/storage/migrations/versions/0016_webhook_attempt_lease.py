"""Each webhook attempt names the lease that made it (docs/webhooks.md).

A delivery round whose commit's answer never came (PostgreSQL's connection lost at
COMMIT) cannot tell whether its attempts were recorded; the round after it records only
those whose lease is not there yet, so no attempt is kept or counted twice. Attempts
recorded before this migration have none.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_attempts", sa.Column("lease_id", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_attempts", "lease_id")
