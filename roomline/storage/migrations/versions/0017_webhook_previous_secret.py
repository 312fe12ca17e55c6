"""A webhook subscription's previous secret, which also signs deliveries until it expires.

Rotating a subscription's secret keeps the one it replaces for a while (24 hours unless
told otherwise): each delivery carries a signature made with either secret, as Standard
Webhooks allows, so a receiver can switch to the new secret without missing one
(docs/webhooks.md, "Secrets").

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from roomline.storage.tables import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_subscriptions", sa.Column("previous_secret", sa.String(128)))
    op.add_column("webhook_subscriptions", sa.Column("previous_secret_until", UTCDateTime))


def downgrade() -> None:
    op.drop_column("webhook_subscriptions", "previous_secret_until")
    op.drop_column("webhook_subscriptions", "previous_secret")
