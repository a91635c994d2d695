"""Import runs in the store: one row per run with its progress, its skips, and the rules that
keep two runs of the same kind from running at once.

A run belongs to the instance that runs it (``owner``, its name) and its heartbeat is its lease,
as a push job's: another instance on the same database takes a run over only once its heartbeat
is older than the lease (its instance is gone), and the instance that lost a run is fenced off:
its progress is not written and it stops (``progress`` answers True), its finish is ignored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select, update

from appliance.storage.db import session_scope
from appliance.storage.models import ImportRun, ImportSkip
from appliance.storage.types import utcnow


class ImportBusyError(Exception):
    def __init__(self, run_id: int | None, done: int, total: int | None) -> None:
        super().__init__(f"import {run_id} is running")
        self.run_id = run_id
        self.done = done
        self.total = total


def start_run(engine: Engine, realm_id: str, kind: str, owner: str | None = None) -> ImportRun:
    """A new run, unless one of this kind is running for the company (then ImportBusyError)."""
    with session_scope(engine) as session:
        running = session.exec(
            select(ImportRun).where(
                col(ImportRun.realm_id) == realm_id,
                col(ImportRun.kind) == kind,
                col(ImportRun.state) == "running",
            )
        ).first()
        if running is not None:
            # Plain values: the session rolls back as this leaves it, detaching the row.
            raise ImportBusyError(running.id, running.done, running.total)
        run = ImportRun(realm_id=realm_id, kind=kind, owner=owner)
        session.add(run)
        session.flush()
        session.refresh(run)
        return run


def latest_run(engine: Engine, realm_id: str, kind: str) -> ImportRun | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(
            select(ImportRun)
            .where(col(ImportRun.realm_id) == realm_id, col(ImportRun.kind) == kind)
            .order_by(col(ImportRun.id).desc())
            .limit(1)
        ).first()


def completed_once(engine: Engine, realm_id: str, kind: str) -> bool:
    """Whether an import of ``kind`` ever completed for the company: a later cancelled or failed
    run leaves what the completed one brought in."""
    with Session(engine) as session:
        return (
            session.exec(
                select(ImportRun.id).where(
                    col(ImportRun.realm_id) == realm_id,
                    col(ImportRun.kind) == kind,
                    col(ImportRun.state) == "done",
                )
            ).first()
            is not None
        )


def _orphaned(owner: str | None, lease_seconds: float) -> Any:
    """Running, and its worker gone: this instance's own (a restart under the same name), an
    older release's (no owner), or its heartbeat older than the lease."""
    if owner is None:
        return col(ImportRun.state) == "running"
    return (col(ImportRun.state) == "running") & or_(
        col(ImportRun.owner).is_(None),
        col(ImportRun.owner) == owner,
        col(ImportRun.heartbeat_at) < utcnow() - timedelta(seconds=lease_seconds),
    )


def orphaned_runs(
    engine: Engine, owner: str | None = None, lease_seconds: float = 60.0
) -> list[ImportRun]:
    """Runs marked running whose worker is gone (a crash or a restart): to be resumed. Without
    ``owner``, every running run (one instance: none of them can still have a worker)."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(ImportRun).where(_orphaned(owner, lease_seconds))).all())


def take_over(engine: Engine, run_id: int, owner: str, lease_seconds: float) -> bool:
    """Make an orphaned run ``owner``'s, its pages to be read again; False if it is not orphaned
    any more (another instance took it first, or its worker came back)."""
    with session_scope(engine) as session:
        taken = session.exec(
            update(ImportRun)
            .where(col(ImportRun.id) == run_id, _orphaned(owner, lease_seconds))
            .values(owner=owner, done=0, skipped=0, heartbeat_at=utcnow())
        )
        return bool(taken.rowcount == 1)


def beat(engine: Engine, owner: str, run_ids: Sequence[int]) -> None:
    """The heartbeat of ``owner``'s runs in progress: they are still being worked on."""
    if not run_ids:
        return
    with session_scope(engine) as session:
        session.exec(
            update(ImportRun)
            .where(
                col(ImportRun.id).in_(run_ids),
                col(ImportRun.owner) == owner,
                col(ImportRun.state) == "running",
            )
            .values(heartbeat_at=utcnow())
        )


def owns(engine: Engine, run_id: int, owner: str | None) -> bool:
    """Is the run still ``owner``'s (always, without an owner)?"""
    if owner is None:
        return True
    with Session(engine) as session:
        run = session.get(ImportRun, run_id)
        return run is not None and run.owner in (None, owner)


def progress(
    engine: Engine,
    run_id: int,
    *,
    total: int | None = None,
    done: int | None = None,
    skipped: int | None = None,
    qbo_calls: int | None = None,
    left_out: dict[str, int] | None = None,
    owner: str | None = None,
) -> bool:
    """Record progress and the heartbeat; returns True if the operator asked to cancel, or the
    run is not ``owner``'s any more (another instance took it over: stop)."""
    with session_scope(engine) as session:
        run = session.get(ImportRun, run_id)
        if run is None or (owner is not None and run.owner not in (None, owner)):
            return True
        if total is not None:
            run.total = total
        if left_out is not None:
            run.left_out = left_out
        # Counts only grow: a late write from an earlier page never moves progress backwards.
        if done is not None:
            run.done = max(run.done, done)
        if skipped is not None:
            run.skipped = max(run.skipped, skipped)
        if qbo_calls is not None:
            run.qbo_calls = max(run.qbo_calls, qbo_calls)
        run.heartbeat_at = utcnow()
        session.add(run)
        return run.cancel_requested


def record_skips(engine: Engine, run_id: int, skips: Sequence[tuple[str, str | None, str]]) -> None:
    if not skips:
        return
    with session_scope(engine) as session:
        existing = set(
            session.exec(select(ImportSkip.qbo_id).where(col(ImportSkip.run_id) == run_id)).all()
        )
        for qbo_id, name, reason in skips:
            if qbo_id not in existing:
                session.add(ImportSkip(run_id=run_id, qbo_id=qbo_id, name=name, reason=reason))


def skips_of(engine: Engine, run_id: int, limit: int = 1000) -> list[ImportSkip]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(ImportSkip).where(col(ImportSkip.run_id) == run_id).limit(limit)
            ).all()
        )


def restart(engine: Engine, run_id: int) -> None:
    """A resumed run starts its pages again (its upserts are idempotent); skips are kept."""
    with session_scope(engine) as session:
        run = session.get(ImportRun, run_id)
        if run is not None:
            run.done = 0
            run.skipped = 0
            run.heartbeat_at = utcnow()
            session.add(run)


def finish(
    engine: Engine, run_id: int, state: str, error: str | None = None, owner: str | None = None
) -> ImportRun | None:
    """The run's end, unless it is not ``owner``'s any more (then nothing changes)."""
    with session_scope(engine) as session:
        run = session.get(ImportRun, run_id)
        if run is None or (owner is not None and run.owner not in (None, owner)):
            return None
        run.state = state
        run.error = error
        run.finished_at = utcnow()
        session.add(run)
        return run


def request_cancel(engine: Engine, realm_id: str, kind: str) -> ImportRun | None:
    with session_scope(engine) as session:
        run = session.exec(
            select(ImportRun).where(
                col(ImportRun.realm_id) == realm_id,
                col(ImportRun.kind) == kind,
                col(ImportRun.state) == "running",
            )
        ).first()
        if run is not None:
            run.cancel_requested = True
            session.add(run)
        return run
