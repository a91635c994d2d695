"""Backups of the store: a consistent copy taken while the service runs, and putting one back.

The copy is SQLite's online backup (the same pages a reader sees in one snapshot: with WAL,
writers go on meanwhile), so it holds every event committed, that is acknowledged, before it
began. The data key is not in it: the secrets inside stay sealed, and the key is kept apart
(``keyring.json``, which changes only with ``appliance rotate-key``). Restoring needs both.

The service writes each copy to ``.backup-<random>.db`` in the state directory and removes it
once sent; one left by a service killed meanwhile is removed by the next holder of the store lock
(``remove_leftovers``), as is a half-made restore.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from appliance.errors import StoreError
from appliance.logging import get_logger
from appliance.storage import killpoints
from appliance.storage.db import fsync_path, sqlite_path

log = get_logger(__name__)

_COPY = re.compile(r"\.backup-[0-9a-f]{32}\.db(-wal|-shm|-journal)?")
_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    schema_revision: str | None
    events: int


def server_commands(
    database_url: str, password_file: Path | None, file: Path
) -> tuple[str, str] | None:
    """For a store on a database server (PostgreSQL): the pg_dump that backs it up to ``file``
    and the pg_restore that puts that back, for the configured database (the password read
    from its file, never written out). None for the embedded SQLite store."""
    if sqlite_path(database_url) is not None:
        return None
    url = make_url(database_url)
    where = (
        f"--host={url.host or 'localhost'} --port={url.port or 5432} "
        f"--username={url.username or 'postgres'}"
    )
    password = f'PGPASSWORD="$(cat {password_file})" ' if password_file else ""
    dump = f"{password}pg_dump --format=custom {where} --dbname={url.database} --file={file}"
    restore = (
        f"{password}pg_restore --clean --if-exists --no-owner {where} "
        f"--dbname={url.database} {file}"
    )
    return dump, restore


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


def copy_path(state_dir: Path) -> Path:
    """Where the service writes a copy before sending it (see ``remove_leftovers``)."""
    return state_dir / f".backup-{uuid.uuid4().hex}.db"


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
        for suffix in _SIDE_FILES:
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        info = describe(target)
        killpoints.reached("backup.taken")
        return info
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def restore(backup: Path, database_url: str, check: Callable[[str], None]) -> BackupInfo:
    """Put a backup in place of the store. The caller holds the store lock, so no other process
    has the database open.

    A kill at any moment leaves the store as it was, or the backup whole in its place:

    1. the backup is copied beside the store (``<db>.restoring``) and synced;
    2. ``check`` is given the copy's URL (to see that this release and this data key can use it),
       then the copy is made one self-contained file (no WAL) and synced;
    3. the store's own WAL is folded into it by SQLite (checkpoint, sync, then delete the WAL):
       never deleted while it holds committed events, and never left behind to be replayed onto
       the copy, for a WAL names no database, only a file name;
    4. one rename puts the copy in place, and the directory is synced.
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
    killpoints.reached("restore.copied")
    try:
        check(f"sqlite:///{partial}")
        _self_contained(partial)
        killpoints.reached("restore.checked")
        if target.exists():
            _fold_live_store(target)
        else:
            _remove(target, keep_main=True)  # a WAL without its database: nothing to keep
    except BaseException:
        _remove(partial)
        raise
    killpoints.reached("restore.before_swap")
    os.replace(partial, target)
    killpoints.reached("restore.after_swap")
    fsync_path(target.parent)
    return info


def _self_contained(path: Path) -> None:
    """Fold the database's WAL into it and leave it in rollback-journal mode, synced, with no
    WAL or shared-memory file beside it. SQLite does the folding in a safe order: it copies the
    WAL's pages, syncs the database, and only then deletes the WAL."""
    db = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=FULL")
        (mode,) = db.execute("PRAGMA journal_mode=DELETE").fetchone()
    finally:
        db.close()
    if mode != "delete":
        raise StoreError(f"The database {path} could not leave WAL mode (it is in {mode} mode).")
    fsync_path(path)
    # What is left (an -shm, a WAL of a database already out of WAL mode) holds nothing of it.
    # Gone for good before any rename: SQLite replays a WAL it finds beside a database even in
    # rollback mode, and one that came back after a power cut would be replayed onto the copy.
    _remove(path, keep_main=True)
    fsync_path(path.parent)


def _fold_live_store(target: Path) -> None:
    try:
        _self_contained(target)
    except sqlite3.DatabaseError as exc:
        reason = getattr(exc, "sqlite_errorname", "")
        if reason.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            # A store SQLite cannot read is what a restore is for: there is nothing to fold, and
            # its WAL must not stay to be replayed onto the copy.
            log.warning("store.restore_replaces_unreadable", store=str(target), error=str(exc))
            _remove(target, keep_main=True)
            fsync_path(target.parent)
            return
        if reason.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            raise StoreError(
                f"The store {target} is open in another process, so it cannot be replaced now.",
                hint="Stop whatever uses it (the service: `sudo systemctl stop "
                "jobroutr-gateway`), then restore again.",
            ) from None
        raise StoreError(
            f"The store {target} cannot be made ready to be replaced ({exc}); it was left as "
            "it was.",
            hint="Check that the appliance's user owns it and the files beside it.",
        ) from None


def remove_leftovers(state_dir: Path, database_url: str) -> list[Path]:
    """Remove the backup copies and half-made restores that a killed process left behind.

    Only for the holder of the store lock: the processes that make these files hold it while
    they do, so none of them is being written now.
    """
    found = [p for p in state_dir.iterdir() if _COPY.fullmatch(p.name)]
    target = sqlite_path(database_url)
    if target is not None:
        partial = target.with_name(target.name + ".restoring")
        found += [p for p in (partial, *(partial.with_name(partial.name + s) for s in _SIDE_FILES))
                  if p.exists()]  # fmt: skip
    for path in found:
        path.unlink(missing_ok=True)
    if found:
        log.info("store.leftovers_removed", files=[p.name for p in found])
    return found


def _remove(path: Path, *, keep_main: bool = False) -> None:
    for suffix in _SIDE_FILES if keep_main else ("", *_SIDE_FILES):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
