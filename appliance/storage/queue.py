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

from sqlalchemy import and_, bindparam, exists, func, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlmodel import col

from appliance.core.states import SETTLED, UNFINISHED, EventStatus, JobState
from appliance.storage.db import session_scope
from appliance.storage.mirror import WRITES
from appliance.storage.models import Event, Job
from appliance.storage.types import utcnow

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
    #: When this claim was taken: a link written since wakes the job if it then parks waiting
    #: for it (``storage.push.complete``).
    claimed_at: datetime | None = None
    #: Seconds the job has waited while the service ran (Job.waited_seconds), read with the claim.
    waited: float = 0.0


def request_base(event_id: str, generation: int) -> str:
    """The requestid base of an event's writes (at most 30 characters; QBO takes 36 on batch)."""
    digest = hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:24]
    return f"jr{digest}g{generation}"[:30]


# The claim's statements, built once: it runs before every job, and building SQLAlchemy
# expressions anew each time cost more than running them. Plain Core, no ORM objects.
_JOB = Job.__table__  # type: ignore[attr-defined]
_OLDER = _JOB.alias("older")
_NOW: BindParameter[datetime] = bindparam("now")
#: No older unfinished job of the same record: those go first.
_BLOCKED = exists().where(
    _OLDER.c.record_key == _JOB.c.record_key,
    _OLDER.c.id < _JOB.c.id,
    _OLDER.c.state.in_(UNFINISHED),
)
_RUNNABLE = or_(
    and_(_JOB.c.state.in_((JobState.QUEUED, JobState.WAITING)), _JOB.c.run_after <= _NOW),
    and_(_JOB.c.state == JobState.RUNNING, _JOB.c.lease_expires_at < _NOW),
)
#: Runnable and not blocked, one state at a time, oldest first: each walks index ix_job_state
#: and stops at the first few (one query over all states would sort the whole backlog).
_PICK = [
    select(
        _JOB.c.id,
        _JOB.c.fence,
        _JOB.c.kind,
        _JOB.c.record_key,
        _JOB.c.event_id,
        _JOB.c.attempts,
        _JOB.c.request_id,
        _JOB.c.generation,
        _JOB.c.waited_seconds,
    )
    .where(ready, ~_BLOCKED)
    .order_by(_JOB.c.id)
    .limit(CANDIDATES)
    for ready in (
        and_(_JOB.c.state == JobState.QUEUED, _JOB.c.run_after <= _NOW),
        and_(_JOB.c.state == JobState.WAITING, _JOB.c.run_after <= _NOW),
        and_(_JOB.c.state == JobState.RUNNING, _JOB.c.lease_expires_at < _NOW),
    )
]
_TAKE = (
    update(_JOB)
    .where(_JOB.c.id == bindparam("job_id"), _JOB.c.fence == bindparam("seen_fence"), _RUNNABLE)
    .values(
        state=JobState.RUNNING,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("until"),
        fence=bindparam("new_fence"),
        attempts=bindparam("new_attempts"),
        request_id=func.coalesce(_JOB.c.request_id, bindparam("base")),
        updated_at=_NOW,
    )
)
_EVENT = Event.__table__  # type: ignore[attr-defined]
_SHOW_RUNNING = (
    update(_EVENT)
    .where(_EVENT.c.id == bindparam("event_id"))
    .values(status=EventStatus.RUNNING, attempts=bindparam("new_attempts"), updated_at=_NOW)
)


def claim(
    engine: Engine, owner: str, lease: timedelta, now: datetime | None = None
) -> Claim | None:
    now = now or utcnow()
    if engine.dialect.name == "postgresql":
        return _claim_one_statement(engine, owner, lease, now)
    # One claim at a time in this process: the workers would otherwise all reach for the same
    # oldest job, and the losers wait in SQLite's busy handler, which sleeps in steps of up to
    # 100 ms. Another process (a second service by mistake, a test) is still fenced out.
    with WRITES, engine.connect() as connection:
        candidates = sorted(
            (row for pick in _PICK for row in connection.execute(pick, {"now": now})),
            key=lambda row: int(row.id),
        )[:CANDIDATES]
        for job in candidates:
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
                now,
                job.waited_seconds or 0.0,
            )
            taken = connection.execute(
                _TAKE,
                {
                    "now": now,
                    "job_id": found.job_id,
                    "seen_fence": found.fence - 1,
                    "owner": owner[:64],
                    "until": now + lease,
                    "new_fence": found.fence,
                    "new_attempts": found.attempts,
                    "base": base,
                },
            )
            if taken.rowcount == 1 and found.event_id is not None:
                # The event shows it, in the same transaction.
                connection.execute(
                    _SHOW_RUNNING,
                    {"now": now, "event_id": found.event_id, "new_attempts": found.attempts},
                )
            connection.commit()
            if taken.rowcount == 1:
                return found
    return None


def _fenced(job_id: int, fence: int) -> ColumnElement[bool]:
    return and_(col(Job.id) == job_id, col(Job.fence) == fence, col(Job.state) == JobState.RUNNING)


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
    if state not in SETTLED:
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


# PostgreSQL: the claim in one statement --------------------------------------------------------
#
# Each statement is a round trip to the server, so there the claim is one: the oldest runnable,
# unblocked job of a few candidates per state (as ``_PICK``), locked with SKIP LOCKED (a job
# another worker is taking is passed over, not waited for), taken (fence and attempts bumped, the
# requestid base stored: ``request_base`` in SQL), and its event shown running, together. Run
# outside an explicit transaction (one statement is one), so no BEGIN and COMMIT round trips.
# The lock's recheck (the row as committed when it is locked) keeps the fence exact. The
# candidates are an ARRAY(...), computed once: as ``IN (...)`` the planner (a young table's
# statistics) ran them again for every queued job, 15 ms a claim behind a backlog of 500.
_WHERE_STATE = {
    "queued": "j.state = :queued AND j.run_after <= :now",
    "waiting": "j.state = :waiting AND j.run_after <= :now",
    "running": "j.state = :running AND j.lease_expires_at < :now",
}
_NOT_BLOCKED = (
    "NOT EXISTS (SELECT 1 FROM job o WHERE o.record_key = j.record_key AND o.id < j.id"
    " AND o.state = ANY(:unfinished))"
)
_CANDIDATES = " UNION ALL ".join(
    f"(SELECT j.id FROM job j WHERE {where} AND {_NOT_BLOCKED} ORDER BY j.id LIMIT :candidates)"  # noqa: S608 - this module's constants
    for where in _WHERE_STATE.values()
)
_CLAIM_PG = text(
    f"""
    WITH picked AS (
        SELECT j.id, j.request_id AS kept_request_id FROM job j
        WHERE j.id = ANY(ARRAY({_CANDIDATES}))
          AND (({_WHERE_STATE["queued"]}) OR ({_WHERE_STATE["waiting"]})
               OR ({_WHERE_STATE["running"]}))
        ORDER BY j.id LIMIT 1 FOR UPDATE SKIP LOCKED
    ), taken AS (
        UPDATE job SET state = :running, lease_owner = :owner, lease_expires_at = :until,
               fence = job.fence + 1, attempts = job.attempts + 1, updated_at = :now,
               request_id = coalesce(job.request_id, left('jr' || left(encode(sha256(convert_to(
                   coalesce(job.event_id, 'job-' || job.id), 'UTF8')), 'hex'), 24)
                   || 'g' || job.generation, 30))
        FROM picked WHERE job.id = picked.id
        RETURNING job.id, job.fence, job.kind, job.record_key, job.event_id, job.attempts,
                  job.request_id, job.generation, job.waited_seconds,
                  picked.kept_request_id IS NOT NULL AS resumed
    ), shown AS (
        UPDATE event SET status = :shown, attempts = taken.attempts, updated_at = :now
        FROM taken WHERE event.id = taken.event_id
    )
    SELECT * FROM taken
    """  # noqa: S608 - this module's constants; every value is bound
)


def _claim_one_statement(
    engine: Engine, owner: str, lease: timedelta, now: datetime
) -> Claim | None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        row = connection.execute(
            _CLAIM_PG,
            {
                "now": now,
                "until": now + lease,
                "owner": owner[:64],
                "queued": JobState.QUEUED.value,
                "waiting": JobState.WAITING.value,
                "running": JobState.RUNNING.value,
                "unfinished": [state.value for state in UNFINISHED],
                "candidates": CANDIDATES,
                "shown": EventStatus.RUNNING.value,
            },
        ).first()
    if row is None:
        return None
    return Claim(
        row.id, row.fence, row.kind, row.record_key, row.event_id, row.attempts,
        row.request_id, row.generation, bool(row.resumed), now, float(row.waited_seconds or 0),
    )  # fmt: skip
