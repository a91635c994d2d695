"""Opening the store: the engine, its SQLite pragmas, and owner-only files on disk."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from appliance.errors import MissingDriverError, StateDirError, StoreError
from appliance.storage import health

BUSY_TIMEOUT_MS = 10_000
#: How long a connection to a database server may take before it counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 10
#: A server database's pooled connections are opened anew after this long.
POOL_RECYCLE_SECONDS = 1800


def secure_state_dir(path: Path) -> Path:
    """Create the state directory owner-only (0700), and tighten it and its files if needed."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise StateDirError(f"The state directory {path} is not a directory.")
        if info.st_uid != os.geteuid():
            raise StateDirError(
                f"The state directory {path} belongs to another user (uid {info.st_uid}).",
                hint="Run the appliance as the user that owns it, or choose another "
                "APPLIANCE_STATE_DIR.",
            )
        if stat.S_IMODE(info.st_mode) != 0o700:
            path.chmod(0o700)
        for child in path.iterdir():
            if child.is_file() and not child.is_symlink() and child.stat().st_mode & 0o077:
                child.chmod(0o600)
    except OSError as exc:
        raise StateDirError(
            f"The state directory {path} cannot be used ({exc.strerror}).",
            hint="Check APPLIANCE_STATE_DIR and that the appliance's user may write there.",
        ) from None
    return path


def sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the console's reads and the workers' writes proceed together; FULL syncs the WAL on
    # every commit, so an acknowledged event survives a power cut, not just a crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def create_store_engine(database_url: str, password: str | None = None) -> Engine:
    """An engine for the store. SQLite files are created owner-only (0600), WAL and SHM included.
    ``password`` (from its file) is given to the server; it is never part of the URL setting."""
    path = sqlite_path(database_url)
    connect_args: dict[str, Any] = {}
    if make_url(database_url).get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    # No test of a pooled connection before each use (pool_pre_ping): on a server it is a round
    # trip per checkout, several per pushed job. A connection the server dropped fails its first
    # statement instead: a disconnect, which invalidates the pool (every other pooled connection
    # is opened anew) and is the outage every caller already answers (503 + Retry-After, the
    # worker waits and tries again: health.trouble). Connections are renewed every half hour,
    # before a firewall or server idle timeout can cut them unseen.
    pool: dict[str, Any] = {}
    if make_url(database_url).get_backend_name() != "sqlite":
        pool = {"pool_recycle": POOL_RECYCLE_SECONDS}
    if path is not None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # SQLite creates -wal and -shm with the main file's mode; create that one 0600 first.
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    try:
        url = make_url(database_url)
        if password is not None:
            url = url.set(password=password)
        engine = create_engine(url, connect_args=connect_args, **pool)
    except ImportError:
        raise MissingDriverError(
            f"The {url.get_backend_name()} database driver is not installed in this appliance.",
            hint="Install the appliance with its postgres extra "
            "(pip install '/opt/jobroutr-gateway/src[postgres]', docs/install.md), or build the "
            "image with --build-arg JOBROUTR_EXTRAS=postgres (docs/docker.md).",
        ) from None
    except Exception as exc:
        raise StoreError(
            f"The database URL in APPLIANCE_DATABASE_URL cannot be used ({type(exc).__name__})."
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    health.ensure_server(engine)  # a server that does not answer: one sentence, exit 75
    return engine


def tighten_sqlite_files(database_url: str) -> None:
    """Make the database, its WAL and SHM owner-only, whatever umask created them."""
    path = sqlite_path(database_url)
    if path is None:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists() and candidate.stat().st_mode & 0o077:
            candidate.chmod(0o600)


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads that need no transaction of their own (a statement or two, each seeing
    what was committed when it ran). On a server its statements then go alone: no BEGIN and
    ROLLBACK round trips around them. SQLite's reads open no transaction anyway."""
    with Session(engine) as session:
        if engine.dialect.name != "sqlite":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def fsync_path(path: Path) -> None:
    """Make what was written to ``path`` durable; for a directory, the names made or removed in
    it (a rename is not durable until its directory is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
