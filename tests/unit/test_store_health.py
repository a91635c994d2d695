"""The store's health without a real full disk: what counts as store trouble, the quick check on a
damaged file, a full disk logged about once a minute, intake's writer answering 503 while writes
fail and storing again after, and push workers that retry instead of failing the job."""

from __future__ import annotations

import asyncio
import errno
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_mock_engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from appliance.config import Settings
from appliance.errors import StoreUnavailableError
from appliance.storage import health
from appliance.storage.events import Incoming, accept
from appliance.storage.models import Event, Job
from appliance.storage.store import Store
from appliance.sync.intake import Intake
from appliance.sync.push import Pusher


def disk_full() -> OperationalError:
    """What SQLAlchemy raises when SQLite finds the disk full (code SQLITE_FULL)."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13  # type: ignore[attr-defined]
    return OperationalError("INSERT INTO event ...", {}, error)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_trouble_tells_a_full_disk_a_failing_one_and_damage_from_everything_else() -> None:
    assert health.trouble(disk_full()) == "full"
    assert health.trouble(OSError(errno.ENOSPC, "No space left on device")) == "full"
    io = sqlite3.OperationalError("disk I/O error")
    io.sqlite_errorcode = 778  # type: ignore[attr-defined] # SQLITE_IOERR_WRITE
    assert health.trouble(OperationalError("x", {}, io)) == "io"
    bad = sqlite3.DatabaseError("database disk image is malformed")
    bad.sqlite_errorcode = 11  # type: ignore[attr-defined]
    assert health.trouble(RuntimeError("a bug")) is None
    outer = RuntimeError("while pushing")
    outer.__cause__ = bad
    assert health.trouble(outer) == "damaged"
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert health.trouble(OperationalError("x", {}, locked)) is None


def test_trouble_tells_a_postgresql_server_that_is_down_from_its_other_errors() -> None:
    import psycopg  # noqa: PLC0415 - the postgres extra, in dev

    down = [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
    ]
    for exc in down:
        assert health.trouble(exc) == "unreachable", exc
    other = [
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.UniqueViolation("duplicate key value"),
        psycopg.OperationalError('password authentication failed for user "appliance"'),
    ]
    for exc in other:
        assert health.trouble(exc) is None, exc


def test_a_full_disk_is_logged_about_once_a_minute_and_readiness_follows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "ROOM_AGAIN_BYTES", 1 << 62)  # this disk never has room again
    clock = Clock()
    state = health.StoreHealth(tmp_path, str(tmp_path / "appliance.db"), clock=clock)
    for _ in range(500):
        refusal = state.failed("full", disk_full())
        clock.now += 0.2  # 500 refused writes over 100 s
    assert isinstance(refusal, StoreUnavailableError)
    assert refusal.http_status == 503
    assert "disk is full" in refusal.message
    logged = [line for line in capsys.readouterr().out.splitlines() if "store.disk_full" in line]
    assert len(logged) == 2, logged
    assert state.writes_failing() == "full"
    problem = state.problem()
    assert problem is not None
    assert f"the disk of {tmp_path} is full" in problem
    state.worked()
    assert state.writes_failing() is None
    assert state.problem() is None


@pytest.mark.sqlite_only
def test_the_quick_check_finds_a_damaged_page_and_skips_postgresql(
    store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert store.check_integrity() is None
    for n in range(300):
        doc = {"data": {"id": f"c{n}"}}
        accept(store.engine, event_id=f"evt_{n}", event_type="customer.created", payload=doc,
               realm_id=None, occurred_at=None, known=True)  # fmt: skip
    db = settings.state_dir / "appliance.db"
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        root = connection.exec_driver_sql(
            "SELECT rootpage FROM sqlite_master WHERE name = 'event'"
        ).scalar_one()
    store.engine.dispose()
    with db.open("r+b") as handle:
        handle.seek((root - 1) * 4096)
        handle.write(random.Random(5).randbytes(4096))  # noqa: S311 - garbage, not secrets

    finding = store.check_integrity()
    assert finding is not None
    assert f"Page {root}" in finding
    again = store.check_integrity()
    assert again == finding
    ok, reason = store.ready()
    assert not ok
    assert "damaged" in reason
    assert "appliance restore" in reason
    assert capsys.readouterr().out.count("store.damaged") == 1  # logged once, not per check

    def never(*_: Any) -> None:
        raise AssertionError("the quick check is SQLite's: nothing is sent to PostgreSQL")

    elsewhere = create_mock_engine("postgresql://gateway@db.invalid/appliance", never)
    assert health.quick_check(elsewhere) is None  # type: ignore[arg-type]


class FullDisk:
    """SQLite's own "database or disk is full" (SQLITE_FULL), without a small disk: every new
    connection of the store may not grow the file past its size when the disk "filled"."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    @staticmethod
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    def __enter__(self) -> FullDisk:
        self.engine.dispose()
        event.listen(self.engine, "connect", self._cap)
        return self

    def free(self) -> None:
        event.remove(self.engine, "connect", self._cap)
        self.engine.dispose()

    def __exit__(self, *exc: object) -> None:
        if event.contains(self.engine, "connect", self._cap):
            self.free()


@pytest.mark.sqlite_only
def test_intake_answers_503_while_the_disk_is_full_and_stores_again_after(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(health, "ROOM_AGAIN_BYTES", 1 << 62)  # only a write may say it is over

    def incoming(n: int) -> Incoming:
        doc = {"type": "customer.created", "data": {"id": f"c{n}", "notes": "n" * 5000}}
        return Incoming(f"evt_{n}", "customer.created", doc, None, None, known=True)

    async def scenario(disk: FullDisk) -> None:
        intake = Intake(store)
        refused = await asyncio.gather(
            *(intake.accept(incoming(n)) for n in range(20)), return_exceptions=True
        )
        assert all(isinstance(r, StoreUnavailableError) for r in refused), refused[:2]
        more = await asyncio.gather(intake.accept(incoming(99)), return_exceptions=True)
        assert isinstance(more[0], StoreUnavailableError)
        ok, reason = store.ready()
        assert not ok
        assert "is full" in reason
        disk.free()
        taken = await asyncio.gather(*(intake.accept(incoming(n)) for n in range(20, 30)))
        assert all(not t.duplicate for t in taken)
        assert store.ready() == (True, "ok")
        await intake.aclose()

    with FullDisk(store) as disk:
        asyncio.run(scenario(disk))
    with store.session() as session:
        assert len(session.exec(select(Event)).all()) == 10
    out = capsys.readouterr().out
    assert out.count("store.disk_full") == 1  # 21 refusals, one line
    assert "Traceback" not in out


class FullDiskQbo:
    """QuickBooks calls whose token refresh cannot save the new tokens: the disk is full."""

    async def query(self, realm_id: str, statement: str) -> dict[str, Any]:
        raise disk_full()


@pytest.mark.sqlite_only
def test_a_push_that_meets_a_full_disk_is_queued_again_not_failed(store: Store) -> None:
    accept(
        store.engine,
        event_id="evt_full",
        event_type="customer.created",
        payload={"type": "customer.created", "data": {"id": "cus_full", "company_name": "F"}},
        realm_id="9341453050071776",
        occurred_at=None,
        known=True,
    )
    pusher = Pusher(store, FullDiskQbo())  # type: ignore[arg-type]
    assert asyncio.run(pusher.run_one("worker")) is True
    with store.session() as session:
        job = session.exec(select(Job)).one()
        event = session.get(Event, "evt_full")
    assert job.state == "queued"
    assert event is not None
    assert event.status == "queued"
