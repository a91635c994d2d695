"""Which store the tests run on: SQLite files (the default) or a real PostgreSQL server.

``python3 tasks.py test`` runs the suite on SQLite, then the tests marked ``stores`` again with
``--store=postgres`` (or ``JRA_TEST_STORE=postgres``). On PostgreSQL, the session starts one
server (tests/harness/postgres.py) and every appliance a test makes gets a database of its own
in it, its password from a file, as an operator would set it up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.harness.postgres import PostgresServer

SQLITE, POSTGRES = "sqlite", "postgres"
CHOICES = (SQLITE, POSTGRES)


class Stores:
    """The session's choice, and its server once one is started."""

    def __init__(self) -> None:
        self.kind = os.environ.get("JRA_TEST_STORE", SQLITE)
        self.server: PostgresServer | None = None

    def store_settings(self) -> dict[str, Any]:
        """What a new appliance's Settings get: nothing on SQLite (its file in the state
        directory); a new database and the password file on PostgreSQL."""
        if self.kind != POSTGRES:
            return {}
        if self.server is None:
            server = PostgresServer()
            server.start()
            self.server = server
        return {
            "database_url": self.server.database(),
            "database_password_file": self.server.password_file,
        }

    def close(self) -> None:
        if self.server is not None:
            self.server.remove()
            self.server = None


#: One per test session (set by tests/conftest.py from --store).
STORES = Stores()


def store_env(database_url: str, password_file: Path | None) -> dict[str, str]:
    """The same as environment settings, for an appliance run as a process."""
    if not password_file:
        return {}
    return {
        "APPLIANCE_DATABASE_URL": database_url,
        "APPLIANCE_DATABASE_PASSWORD_FILE": str(password_file),
    }
