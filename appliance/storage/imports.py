"""Import runs in the store: one row per run with its progress, its skips, and the rules that
keep two runs of the same kind from running at once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.storage.db import session_scope
from appliance.storage.models import ImportRun, ImportSkip
from appliance.storage.types import utcnow


class ImportBusyError(Exception):
    def __init__(self, run_id: int | None, done: int, total: int | None) -> None:
        super().__init__(f"import {run_id} is running")
        self.run_id = run_id
        self.done = done
        self.total = total


def start_run(engine: Engine, realm_id: str, kind: str) -> ImportRun:
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
        run = ImportRun(realm_id=realm_id, kind=kind)
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


def orphaned_runs(engine: Engine) -> list[ImportRun]:
    """Runs marked running whose worker is gone (a crash or a restart): to be resumed."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(ImportRun).where(col(ImportRun.state) == "running")).all())


def progress(
    engine: Engine,
    run_id: int,
    *,
    total: int | None = None,
    done: int | None = None,
    skipped: int | None = None,
    qbo_calls: int | None = None,
    left_out: dict[str, int] | None = None,
) -> bool:
    """Record progress and the heartbeat; returns True if the operator asked to cancel."""
    with session_scope(engine) as session:
        run = session.get(ImportRun, run_id)
        if run is None:
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


def finish(engine: Engine, run_id: int, state: str, error: str | None = None) -> ImportRun | None:
    with session_scope(engine) as session:
        run = session.get(ImportRun, run_id)
        if run is None:
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
