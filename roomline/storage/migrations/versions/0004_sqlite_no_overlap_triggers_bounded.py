"""SQLite: the no-overlap triggers of 0003, checking in time independent of history.

0003's triggers look at every active reservation of the space that starts before the new
block ends, so a booking in a space with a thousand past reservations reads a thousand
index entries. Active blocks of a space never overlap each other (these triggers see to
it), so of the blocks starting before the new one only the latest can reach into it: the
check now starts its index range there. Same rule, same error, two index seeks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OVERLAP_MESSAGE = "reservations_no_overlap"

_OTHERS = """
        other.space_id = NEW.space_id
          AND other.status = 'Processed'
          AND other.ultimo_id IS NOT NEW.ultimo_id"""

_BOUNDED_CHECK = f"""
BEGIN
    SELECT RAISE(ABORT, '{OVERLAP_MESSAGE}')
    WHERE NEW.status = 'Processed' AND EXISTS (
        SELECT 1 FROM reservations AS other
        WHERE {_OTHERS}
          AND other.blocked_start >= coalesce((
              SELECT other.blocked_start FROM reservations AS other
              WHERE {_OTHERS}
                AND other.blocked_start < NEW.blocked_start
              ORDER BY other.blocked_start DESC LIMIT 1
          ), NEW.blocked_start)
          AND other.blocked_start < NEW.blocked_end
          AND other.blocked_end > NEW.blocked_start
    );
END
"""

# 0003's check, restored by the downgrade.
_FULL_CHECK = f"""
BEGIN
    SELECT RAISE(ABORT, '{OVERLAP_MESSAGE}')
    WHERE NEW.status = 'Processed' AND EXISTS (
        SELECT 1 FROM reservations AS other
        WHERE {_OTHERS}
          AND other.blocked_start < NEW.blocked_end
          AND other.blocked_end > NEW.blocked_start
    );
END
"""


def _create_triggers(check: str) -> None:
    op.execute(
        f"CREATE TRIGGER reservations_no_overlap_insert BEFORE INSERT ON reservations {check}"
    )
    op.execute(
        "CREATE TRIGGER reservations_no_overlap_update BEFORE UPDATE OF "
        "space_id, blocked_start, blocked_end, status ON reservations " + check
    )


def _drop_triggers() -> None:
    op.execute("DROP TRIGGER reservations_no_overlap_update")
    op.execute("DROP TRIGGER reservations_no_overlap_insert")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_triggers()
    _create_triggers(_BOUNDED_CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_triggers()
    _create_triggers(_FULL_CHECK)
