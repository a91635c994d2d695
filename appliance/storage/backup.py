"""Backups of the store: a consistent copy taken while the service runs, and putting one back.

The copy is SQLite's online backup (the same pages a reader sees in one snapshot: with WAL,
writers go on meanwhile), so it holds every event committed, that is acknowledged, before it
began. The data key is not in it: the secrets inside stay sealed, and the key is kept apart
(``keyring.json``, which changes only with ``appliance rotate-key``). Restoring needs both.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import StoreError
from appliance.storage.db import sqlite_path


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    schema_revision: str | None
    events: int


def _database(database_url: str) -> Path:
    path = sqlite_path(database_url)
    if path is None:
        raise StoreError(
            "Only the embedded SQLite store can be backed up by the appliance.",
            hint="Back up that database with its own tools (for PostgreSQL: pg_dump).",
        )
    return path


def describe(path: Path) -> BackupInfo:
    """Check a copy opens whole and say what it holds."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            (check,) = db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise StoreError(f"The backup {path} is damaged ({check}).")
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            (events,) = db.execute("SELECT count(*) FROM event").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a backup of the appliance's store ({exc}).") from None
    return BackupInfo(path, path.stat().st_size, row[0] if row else None, int(events))


def take(database_url: str, target: Path) -> BackupInfo:
    """A consistent copy of the live store at ``target`` (created owner-only, must not exist)."""
    source = _database(database_url)
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        return describe(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def restore(backup: Path, database_url: str, check: Callable[[str], None]) -> BackupInfo:
    """Put a backup in place of the store; the service must be stopped (the caller checks).

    The copy is made beside the store first and ``check`` is given its database URL (to see
    that this release and this data key can use it); only then does it replace the store, in one
    rename. Anything that fails before leaves the store as it was.
    """
    info = describe(backup)
    target = _database(database_url)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    _remove(partial)
    fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with backup.open("rb") as source:
            while chunk := source.read(1 << 20):
                os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        check(f"sqlite:///{partial}")
    except BaseException:
        _remove(partial)
        raise
    _remove(partial, keep_main=True)  # the check's WAL, checkpointed when it closed
    _remove(target, keep_main=True)  # the old store's WAL must not be replayed onto the copy
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return info


def _remove(path: Path, *, keep_main: bool = False) -> None:
    for suffix in ("-wal", "-shm", "-journal") if keep_main else ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
