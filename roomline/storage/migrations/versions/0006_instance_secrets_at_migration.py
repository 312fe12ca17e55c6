"""Create the instance's API-key hashing secret when the database is migrated.

It used to be created by the first request that needed it, in that request's read
transaction; a fresh deployment's first concurrent requests then raced to insert it
(PostgreSQL: a unique violation, 500; SQLite: a read that cannot become a write, 503).
Created here, once, before any server answers, every request only reads it. A database
that has it already keeps its own: the API keys stored so far are hashed with it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KEY_HASH_SECRET = "api_key_hmac"  # roomline.storage.keys.KEY_HASH_SECRET, as of this revision


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "INSERT INTO instance_secrets (name, value) VALUES (:name, :value) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        {"name": KEY_HASH_SECRET, "value": secrets.token_hex(32)},
    )


def downgrade() -> None:
    # The secret stays: removing it would orphan every stored API key's hash.
    pass
