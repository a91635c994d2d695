"""The audit log of operator actions: appended here, never updated (the schema forbids it)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from appliance.storage.models import AuditEntry


def record(
    session: Session, *, actor: str, action: str, realm_id: str | None = None, **detail: Any
) -> None:
    session.add(AuditEntry(actor=actor, action=action, realm_id=realm_id, detail=detail))


def recent(session: Session, limit: int = 50) -> list[AuditEntry]:
    return list(
        session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)).all()
    )
