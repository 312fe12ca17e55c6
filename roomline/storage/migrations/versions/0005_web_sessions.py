"""Web view sessions kept in the database, and the random key that signs their cookies.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The cookie-signing key used to be derived from the admin token, so anyone who knew (or
guessed) the token's text, an empty one included, could forge a session offline. It is
now 32 random bytes made here, once, when the database is migrated.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WEB_SESSION_KEY = "web_session_key"  # as in roomline/storage/web_sessions.py


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("admin_token_hmac", sa.String(64), nullable=False),
        sa.Column("signed_in_at", UTCDateTime, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_seen_at", "web_sessions", ["seen_at"])
    instance_secrets = sa.table(
        "instance_secrets", sa.column("name", sa.String), sa.column("value", sa.String)
    )
    op.bulk_insert(instance_secrets, [{"name": WEB_SESSION_KEY, "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM instance_secrets WHERE name = 'web_session_key'"))
    op.drop_index("ix_web_sessions_seen_at", table_name="web_sessions")
    op.drop_table("web_sessions")
