"""Reports read the log's cancel, check-in and release entries (docs/reports.md).

An index on (action, ultimo_id, at) answers them from the index alone, without reading
the far more numerous create and update entries and their JSON snapshots.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_action_ultimo_id", "audit_log", ["action", "ultimo_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action_ultimo_id", table_name="audit_log")
