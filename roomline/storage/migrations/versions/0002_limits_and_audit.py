"""Shared request-limit counters and the audit trail of reservation writes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import ReservationId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", ReservationId, primary_key=True, autoincrement=True),
        sa.Column("limit_key", sa.String(128), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rate_limit_hits_key_at", "rate_limit_hits", ["limit_key", "at_ms"])
    op.create_table(
        "quota_counters",
        sa.Column("limit_key", sa.String(128), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ReservationId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("workflow", sa.String(64), nullable=True),
        sa.Column("ultimo_id", sa.BigInteger, nullable=False),
        sa.Column("key_name", sa.String(255), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("before_state", sa.Text, nullable=True),
        sa.Column("after_state", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_ultimo_id", "audit_log", ["ultimo_id"])
    op.create_index("ix_audit_log_key_name", "audit_log", ["key_name"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("quota_counters")
    op.drop_table("rate_limit_hits")
