"""The audit log of operator actions: appended here, never updated (the schema forbids it)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from appliance.storage.models import AuditEntry


def record(
    session: Session, *, actor: str, action: str, realm_id: str | None = None, **detail: Any
) -> None:
    session.add(AuditEntry(actor=actor, action=action, realm_id=realm_id, detail=detail))


def operator(uid: int | None, user: str | None, claimed: str) -> str:
    """The actor of an admin request: the uid the kernel reported for the admin socket's peer
    (and its user name), and beside it the name the client claimed, which anyone who may open
    the socket can choose: ``uid 0 (root), says alice@cli``. Without a uid (no Unix socket: an
    in-process test client) the claim is all there is, and it says so. Fits the 64-character
    column, the uid first so that a long claim is what gets cut."""
    who = "unverified" if uid is None else f"uid {uid}" + (f" ({user[:16]})" if user else "")
    claimed = "".join(c for c in claimed if c.isprintable())
    return f"{who}, says {claimed}"[:64] if claimed else who
