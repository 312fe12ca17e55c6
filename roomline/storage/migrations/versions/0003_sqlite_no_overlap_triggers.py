"""SQLite: refuse overlapping blocked intervals in the database itself.

PostgreSQL has had an exclusion constraint since 0001. SQLite has none, so two triggers
abort any insert or update that would give two active reservations of one space
overlapping blocked intervals, whatever code path or program writes the row. (roomline's
own writes also hold the write lock while checking; these triggers make the rule hold
for every writer.)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OVERLAP_MESSAGE = "reservations_no_overlap"

_CHECK = f"""
BEGIN
    SELECT RAISE(ABORT, '{OVERLAP_MESSAGE}')
    WHERE NEW.status = 'Processed' AND EXISTS (
        SELECT 1 FROM reservations AS other
        WHERE other.space_id = NEW.space_id
          AND other.status = 'Processed'
          AND other.ultimo_id IS NOT NEW.ultimo_id
          AND other.blocked_start < NEW.blocked_end
          AND other.blocked_end > NEW.blocked_start
    );
END
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE TRIGGER reservations_no_overlap_insert BEFORE INSERT ON reservations {_CHECK}"
    )
    op.execute(
        "CREATE TRIGGER reservations_no_overlap_update BEFORE UPDATE OF "
        "space_id, blocked_start, blocked_end, status ON reservations " + _CHECK
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER reservations_no_overlap_update")
    op.execute("DROP TRIGGER reservations_no_overlap_insert")
