"""Bring a database's schema to the newest Alembic revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from roomline.storage.database import Database, DatabaseUnavailable
from roomline.storage.diagnosis import connection_failure

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Run every migration not yet applied to ``database``.

    This is the first connection every command makes: if it fails, the
    ``DatabaseSetupError`` raised says why and what to do.
    """
    config = alembic_config(database)
    try:
        connection = database.engine.connect()
    except DatabaseUnavailable as exc:
        raise connection_failure(database.url, exc) from exc
    with connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
