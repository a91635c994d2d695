"""The store's health: is its file intact, and does its disk take writes?

Two troubles the appliance cannot mend, but must name plainly instead of failing request after
request with a traceback:

- A damaged file. SQLite's quick check (``PRAGMA quick_check``) reads every page of the file and
  checks each b-tree's structure (not the indexes against the tables: that is integrity_check,
  several times slower). It runs at start, when `appliance status` asks (at most once a minute),
  and every ``integrity_check_seconds``, always in a thread. Measured on a store of 100,000 events
  (105 MB): 0.12 s with the file in the page cache, 1.5 s from a cold cache. Damage is logged
  once; readiness then fails with the restore hint and events are refused (503), because a
  restore from a backup would drop whatever was acknowledged after the damage.
- A full or failing disk. The writes that fail say so (SQLite's "database or disk is full",
  "disk I/O error", or ENOSPC); they are answered 503 with Retry-After (JobRoutr retries), logged
  about once a minute with how many were refused meanwhile, and readiness fails until a write
  works again, or until the disk has room again when nothing writes meanwhile.

PostgreSQL checks its own pages: the quick check is SQLite's only and is skipped for it.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from appliance.errors import (
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
    UnreadableStoreError,
)
from appliance.logging import get_logger
from appliance.storage.types import utcnow

log = get_logger(__name__)

Trouble = Literal["full", "io", "damaged", "unreachable"]

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_NOTADB = 26

#: A full disk is logged at most this often (seconds), with the count of writes refused since.
LOG_EVERY_SECONDS = 60.0
#: With this much room again (and no write tried since), readiness stops saying the disk is full.
ROOM_AGAIN_BYTES = 1 << 20
#: `appliance status` runs the quick check again when the last one is older than this.
STATUS_RECHECK_SECONDS = 60.0

RESTORE_HINT = (
    'Restore the last good backup with `appliance restore` (README, "Backup and restore"); '
    "JobRoutr sends the refused events again."
)


def trouble(exc: BaseException) -> Trouble | None:
    """What store trouble an exception means: ``full`` disk, failing disk (``io``), ``damaged``
    file, a database server that does not answer (``unreachable``); None for anything else (a
    bug, a lock, a constraint: not this module's business)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (kind := _one(current)) is not None:
            return kind
        orig = current.orig if isinstance(current, DBAPIError) else None
        current = orig or current.__cause__ or current.__context__
    return None


_SQLITE_TROUBLE: dict[int, Trouble] = {
    SQLITE_FULL: "full",
    SQLITE_IOERR: "io",
    SQLITE_CORRUPT: "damaged",
    SQLITE_NOTADB: "damaged",
}
_OS_TROUBLE: dict[int, Trouble] = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EIO: "io"}


def _one(exc: BaseException) -> Trouble | None:
    """The trouble this one exception (not its causes) means."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return _SQLITE_TROUBLE.get(code & 0xFF) if isinstance(code, int) else None
    if isinstance(exc, OSError):
        return _OS_TROUBLE.get(exc.errno) if exc.errno is not None else None
    return "unreachable" if _unreachable(exc) else None


#: PostgreSQL's codes for "no server to talk to": class 08 (connection exception), and the
#: server shutting down, crashed, or starting (57P01-57P03).
_GONE_STATES = ("57P01", "57P02", "57P03")


def _unreachable(exc: BaseException) -> bool:
    """A PostgreSQL server that is down, restarting or not there (psycopg's OperationalError
    with no code, or a connection-exception code). Not a lock timeout or a cancelled query."""
    if not type(exc).__module__.startswith("psycopg") or type(exc).__name__ == "Warning":
        return False
    import psycopg  # noqa: PLC0415 - only when psycopg raised it (the postgres extra)

    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = getattr(exc, "sqlstate", None)
    if state is None:
        words = str(exc)
        return "authentication failed" not in words and "does not exist" not in words
    return state.startswith("08") or state in _GONE_STATES


def _reason(exc: BaseException) -> str:
    """SQLite's own words, without SQLAlchemy's statement and link."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    return str(orig or exc).splitlines()[0]


def quick_check(engine: Engine) -> str | None:
    """None when the file is intact (or the store is not SQLite); else SQLite's first findings."""
    if engine.dialect.name != "sqlite":
        return None
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("PRAGMA quick_check(3)").fetchall()
    except DBAPIError as exc:
        if trouble(exc) == "damaged":
            return _reason(exc)
        raise
    findings = [
        line.strip()
        for row in rows
        for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("*** in database")
    ]
    if findings == ["ok"]:
        return None
    return "; ".join(findings[:3]) or "no details"


def ensure_readable(engine: Engine, path: Path | None) -> None:
    """Refuse, with a sentence, a database file SQLite cannot read at all (not a database, cut
    short): UnreadableStoreError (exit 78). A full or failing disk is a StoreError (exit 1), so
    systemd tries again, and the next start works once there is room."""
    if path is None:
        return
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").fetchall()
    except DBAPIError as exc:
        raise_for(exc, path)
        raise


SERVER_HINT = (
    "Check that PostgreSQL runs there and that APPLIANCE_DATABASE_URL names it. The appliance "
    "exits 75 so that systemd starts it again; it starts once the server answers."
)


def ensure_server(engine: Engine) -> None:
    """A database server (PostgreSQL) that answers and lets the appliance in, or a sentence:
    StoreUnreachableError (exit 75) when it does not answer, StoreError when it refuses."""
    if engine.dialect.name == "sqlite":
        return
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        url = engine.url
        where = f"{url.host}:{url.port or 5432}/{url.database}"
        if trouble(exc) == "unreachable":
            raise StoreUnreachableError(
                f"The database server {where} cannot be reached ({_reason(exc)}).",
                hint=SERVER_HINT,
            ) from None
        raise StoreError(
            f"The database server {where} refused the appliance ({_reason(exc)}).",
            hint="Check the user and database in APPLIANCE_DATABASE_URL (create the database "
            "first) and the password in the file APPLIANCE_DATABASE_PASSWORD_FILE names.",
        ) from None


def refuse_emptied(path: Path | None) -> None:
    """Refuse a database file that is there with no bytes (UnreadableStoreError, exit 78).

    SQLite takes such a file for a new database, and the service would start on a blank store
    with no API key, webhook secret or queue. A store `init` made is never empty; this is asked
    before the engine is made, because making it creates a missing file empty (owner-only)."""
    if path is not None and _emptied(path):
        raise UnreadableStoreError(
            f"The database {path} is empty (0 bytes): it was cut short, and what it held is gone.",
            hint=RESTORE_HINT.replace("; JobRoutr sends the refused events again.", ".")
            + " Or move the file aside and run `appliance init` for a new, empty store.",
        )


def _emptied(path: Path) -> bool:
    """The file is there and has no bytes, and no write-ahead log holds its pages either."""
    try:
        if path.stat().st_size != 0:
            return False
    except FileNotFoundError:
        return False  # not there: a store `appliance init` is about to create
    wal = path.with_name(path.name + "-wal")
    return not wal.exists() or wal.stat().st_size == 0


def raise_for(exc: BaseException, path: Path) -> None:
    """Turn store trouble met while opening or migrating into its sentence (else return)."""
    kind = trouble(exc)
    if kind == "damaged":
        raise UnreadableStoreError(
            f"The database {path} cannot be read ({_reason(exc)}): it is damaged or is not the "
            "appliance's database.",
            hint=RESTORE_HINT.replace("; JobRoutr sends the refused events again.", ".")
            + " Or move the file aside and run `appliance init` for a new, empty store.",
        ) from None
    if kind is not None:
        raise StoreError(
            f"The database {path} cannot be used: {disk_sentence(kind, path.parent)}",
            hint="Free space on that disk (or check it), then start again.",
        ) from None


def disk_sentence(kind: Trouble, where: Path) -> str:
    if kind == "full":
        return f"the disk of {where} is full."
    return f"the disk of {where} fails writes (disk I/O error): it may be full or failing."


class StoreHealth:
    """What this process knows of its store's health; one per Store, shared by every thread."""

    def __init__(
        self, directory: Path, location: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.directory = directory
        self.location = location
        self._clock = clock
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        #: The quick check's finding (None: intact, or not checked yet).
        self.damage: str | None = None
        self.checked_at: datetime | None = None
        self._checked_mono: float | None = None
        self._writes: Trouble | None = None  # "full" or "io" while writes fail
        self._failing_since = 0.0
        self._logged_at: float | None = None
        self._refused = 0

    # The file -----------------------------------------------------------------------------

    def check(self, engine: Engine) -> str | None:
        """Run the quick check now (one at a time: a second caller waits for it and gets the
        same answer). Logs the damage the first time it is seen. Blocking: call in a thread."""
        started = self._clock()
        with self._checking:
            if self._checked_mono is not None and self._checked_mono >= started:
                return self.damage  # checked while this caller waited
            finding = quick_check(engine)
            with self._lock:
                self.checked_at = utcnow()
                self._checked_mono = self._clock()
            if finding is None:
                if self.damage is not None:
                    log.info("store.intact", location=self.location)
                self.damage = None
            else:
                self._damaged(finding)
            return self.damage

    def stale(self, seconds: float = STATUS_RECHECK_SECONDS) -> bool:
        """Is the last quick check older than ``seconds`` (or was there none)?"""
        last = self._checked_mono
        return last is None or self._clock() - last >= seconds

    def _damaged(self, finding: str) -> None:
        with self._lock:
            first = self.damage is None
            self.damage = finding
        if first:
            log.error("store.damaged", location=self.location, finding=finding, hint=RESTORE_HINT)

    def damage_sentence(self) -> str | None:
        if self.damage is None:
            return None
        return (
            f"The store {self.location} is damaged (SQLite: {self.damage}); events are refused "
            "until it is restored."
        )

    # Writes -------------------------------------------------------------------------------

    def failed(self, kind: Trouble, exc: BaseException) -> StoreUnavailableError:
        """A store operation failed with ``kind`` trouble: note it, log it (a full disk about
        once a minute, with the count of writes refused meanwhile), and return what to answer."""
        if kind == "damaged":
            self._damaged(_reason(exc))
            return self.unavailable()
        now = self._clock()
        with self._lock:
            if self._writes is None:
                self._failing_since = now
                self._logged_at = None
            self._writes = kind
            self._refused += 1
            due = self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS
            if due:
                refused, self._refused, self._logged_at = self._refused, 0, now
        if due and kind == "unreachable":
            log.error(
                "store.unreachable",
                database=self.location,
                error=_reason(exc),
                refused=refused,
                failing_seconds=round(now - self._failing_since),
                hint="Start the database server again: the service goes on by itself.",
            )
        elif due:
            log.error(
                "store.disk_full" if kind == "full" else "store.disk_failing",
                directory=str(self.directory),
                error=_reason(exc),
                refused=refused,
                failing_seconds=round(now - self._failing_since),
                hint="Free space there: the service takes events again by itself.",
            )
        return self.unavailable()

    def worked(self) -> None:
        """A write was committed: the disk takes writes (again)."""
        if self._writes is None:
            return
        with self._lock:
            if self._writes is None:
                return
            seconds, refused = self._clock() - self._failing_since, self._refused
            self._writes = None
        log.info("store.writes_resumed", after_seconds=round(seconds), refused_since_log=refused)

    def writes_failing(self) -> Trouble | None:
        """``full`` or ``io`` while writes fail. Once a full disk has room again (and nothing
        has written since to prove it), say so no longer: the next write tells."""
        kind = self._writes
        if kind != "full":
            return kind  # a failing disk: only a write that works says it works again
        try:
            room = shutil.disk_usage(self.directory).free
        except OSError:
            return kind
        if room >= ROOM_AGAIN_BYTES and self._clock() - self._failing_since > 1.0:
            with self._lock:
                self._writes = None
            log.info("store.disk_has_room", directory=str(self.directory), free_bytes=room)
            return None
        return kind

    # What to say --------------------------------------------------------------------------

    def problem(self) -> str | None:
        """One sentence and what to do, for /readyz; None when healthy (as far as known)."""
        if (damage := self.damage_sentence()) is not None:
            return f"{damage} {RESTORE_HINT}"
        if (kind := self.writes_failing()) == "unreachable":
            return (
                f"The database {self.location} cannot be reached: events are refused (503) "
                "until it answers again; the service goes on by itself."
            )
        if kind is not None:
            return (
                "The store takes no writes: "
                + disk_sentence(kind, self.directory)
                + " Free space there; the service takes events again by itself."
            )
        return None

    def unavailable(self) -> StoreUnavailableError:
        """What a refused request is told. No path: the public listener answers with it."""
        if self.damage is not None:
            return StoreUnavailableError(
                "The appliance's store is damaged: it takes nothing until it is restored.",
                hint="The operator restores it from a backup; send it again later (Retry-After).",
            )
        if self._writes == "unreachable":
            return StoreUnreachableError(
                "The appliance's database cannot be reached: nothing was stored.",
                hint="The database server is down or restarting; send it again later "
                "(Retry-After).",
            )
        failing = "full" if (self._writes or "full") == "full" else "failing (disk I/O error)"
        return StoreUnavailableError(
            f"The appliance's disk is {failing}: nothing was stored.",
            hint="The operator must free space; send it again later (Retry-After).",
        )
