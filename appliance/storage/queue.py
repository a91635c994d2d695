"""The job queue in the store: leases, heartbeats and fencing, one job at a time per record.

* ``claim`` takes the oldest runnable job whose record has no older unfinished job (events for
  the same JobRoutr record apply in the order they were received). Runnable: queued or waiting
  and due, or running with a lease that expired (its worker died). Taking it bumps the job's
  ``fence``; every later write by the worker names the fence it holds, so a worker that wakes up
  after its lease was taken over can neither heartbeat nor finish the job.
* Claims are optimistic single-row updates conditioned on the fence read, so two workers (or two
  processes) racing for a job cannot both get it, without holding a write lock while choosing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from appliance.storage.db import session_scope
from appliance.storage.models import Event, Job
from appliance.storage.types import utcnow

UNFINISHED = ("queued", "running", "waiting")
CANDIDATES = 20


@dataclass(frozen=True)
class Claim:
    job_id: int
    fence: int
    kind: str
    record_key: str
    event_id: str | None
    attempts: int
    #: The job's requestid base, stored with the claim, before any write is sent: derived from
    #: the event and the operator-retry generation, the same on every retry.
    request_id: str
    generation: int = 0
    #: An earlier claim of this generation stored the requestid: its writes may have happened.
    resumed: bool = False


def request_base(event_id: str, generation: int) -> str:
    """The requestid base of an event's writes (at most 30 characters; QBO takes 36 on batch)."""
    digest = hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:24]
    return f"jr{digest}g{generation}"[:30]


def _runnable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(col(Job.state).in_(("queued", "waiting")), col(Job.run_after) <= now),
        and_(col(Job.state) == "running", col(Job.lease_expires_at) < now),
    )


def claim(
    engine: Engine, owner: str, lease: timedelta, now: datetime | None = None
) -> Claim | None:
    now = now or utcnow()
    with Session(engine) as session:
        # Runnable, and no older unfinished job of the same record (those go first), in one
        # query: a long tail of blocked jobs never hides the runnable ones behind it.
        older = aliased(Job)
        blocked = (
            select(older.id)
            .where(
                older.record_key == Job.record_key,
                older.id < Job.id,  # type: ignore[operator]
                col(older.state).in_(UNFINISHED),
            )
            .exists()
        )
        candidates = session.exec(
            select(Job).where(_runnable(now), ~blocked).order_by(col(Job.id)).limit(CANDIDATES)
        ).all()
        for job in candidates:
            assert job.id is not None
            # Read before the commit below expires (and reloads) the row.
            base = request_base(job.event_id or f"job-{job.id}", job.generation)
            found = Claim(
                job.id,
                job.fence + 1,
                job.kind,
                job.record_key,
                job.event_id,
                job.attempts + 1,
                job.request_id or base,
                job.generation,
                job.request_id is not None,
            )
            taken = session.exec(
                update(Job)
                .where(
                    col(Job.id) == found.job_id, col(Job.fence) == found.fence - 1, _runnable(now)
                )
                .values(
                    state="running",
                    lease_owner=owner[:64],
                    lease_expires_at=now + lease,
                    fence=found.fence,
                    attempts=found.attempts,
                    request_id=func.coalesce(col(Job.request_id), base),
                    updated_at=now,
                )
            )
            if taken.rowcount == 1 and found.event_id is not None:
                # The event shows it, in the same transaction.
                session.exec(
                    update(Event)
                    .where(col(Event.id) == found.event_id)
                    .values(status="running", attempts=found.attempts, updated_at=now)
                )
            session.commit()
            if taken.rowcount == 1:
                return found
    return None


def _fenced(job_id: int, fence: int) -> ColumnElement[bool]:
    return and_(col(Job.id) == job_id, col(Job.fence) == fence, col(Job.state) == "running")


def heartbeat(engine: Engine, job_id: int, fence: int, lease: timedelta) -> bool:
    """Extend the lease of a live job; False means it was taken over: stop working on it."""
    now = utcnow()
    with session_scope(engine) as session:
        result = session.exec(
            update(Job)
            .where(_fenced(job_id, fence))
            .values(lease_expires_at=now + lease, updated_at=now)
        )
        return bool(result.rowcount == 1)


def finish(
    engine: Engine,
    job_id: int,
    fence: int,
    *,
    state: str,
    error: str | None = None,
    run_after: datetime | None = None,
    waiting_for: str | None = None,
    request_id: str | None = None,
) -> bool:
    """End (done/failed) or park (queued with run_after, waiting) a job the caller still holds."""
    if state not in ("done", "failed", "queued", "waiting"):
        raise ValueError(f"unknown job state {state!r}")
    now = utcnow()
    values: dict[str, object] = {
        "state": state,
        "last_error": error,
        "waiting_for": waiting_for,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }
    if run_after is not None:
        values["run_after"] = run_after
    if request_id is not None:
        values["request_id"] = request_id
    with session_scope(engine) as session:
        result = session.exec(update(Job).where(_fenced(job_id, fence)).values(**values))
        return bool(result.rowcount == 1)


def remember_request_id(engine: Engine, job_id: int, fence: int, request_id: str) -> bool:
    """Store the requestid of a write before the write is sent (so a retry reuses it)."""
    with session_scope(engine) as session:
        result = session.exec(
            update(Job).where(_fenced(job_id, fence)).values(request_id=request_id[:50])
        )
        return bool(result.rowcount == 1)
