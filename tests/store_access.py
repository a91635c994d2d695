"""Ways into the store that only tests take: the audit log read back, newest first (the service
only appends to it), and a running job's requestid set by hand (the service sets it when a job
is claimed)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.storage.db import session_scope
from appliance.storage.models import AuditEntry, Job


def recent_audit(session: Session, limit: int = 50) -> list[AuditEntry]:
    return list(
        session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)).all()
    )


def remember_request_id(engine: Engine, job_id: int, fence: int, request_id: str) -> bool:
    """Store the requestid of a job its claimer still holds (the fence a worker's writes use)."""
    held = (col(Job.id) == job_id, col(Job.fence) == fence, col(Job.state) == "running")
    with session_scope(engine) as session:
        result = session.exec(update(Job).where(*held).values(request_id=request_id[:50]))
        return bool(result.rowcount == 1)
