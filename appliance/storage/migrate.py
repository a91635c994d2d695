"""Schema migrations with Alembic, configured in code so the package carries everything it needs."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Engine

from appliance.errors import NewerStoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(_config(engine)).get_current_head()
    assert head is not None
    return head


def knows(revision: str) -> bool:
    """Is ``revision`` one of this release's schema versions (not one of a newer release)?"""
    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


#: The advisory lock (a number of the appliance's own) that migrations hold on PostgreSQL.
MIGRATION_LOCK = 0x4A52_4D49


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to this release's head. Returns (before, after).

    On PostgreSQL, under an advisory lock held until the migration commits: two instances that
    start at once on one database do not both create the tables; the second waits, then finds
    the schema current. (SQLite's writers are one at a time already.)"""
    config = _config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = MigrationContext.configure(connection).get_current_revision()
        if before is not None and not knows(before):
            raise NewerStoreError(
                f"The database is at schema version {before}, which this release does not know: "
                "it was written by a newer appliance.",
                hint="Install that newer release again, or restore a backup made by this one.",
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, head_revision(engine)
