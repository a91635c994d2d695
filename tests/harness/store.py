"""Ways into the store that only tests take: reading it as the service would find it (open, read,
close), the audit log read back newest first (the service only appends to it), a running job's
requestid set by hand (the service sets it when a job is claimed), an invoice event put in the
store already ended ``mismatch`` (the service's workers never take a finished job), a customer
or product event put in ``review`` as a push that asked the operator leaves it (a job in review is
never claimed, so a running service leaves it there until the operator decides), and the
operator's decision on an event in review."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.config import Settings
from appliance.core.review import ReviewCase
from appliance.core.states import EventStatus, JobState
from appliance.storage import choices, credentials, review
from appliance.storage.db import session_scope
from appliance.storage.models import AuditEntry, Event, Job
from appliance.storage.store import Store


def webhook_secret(settings: Settings) -> str:
    store = Store.open(settings)
    try:
        with store.session() as session:
            secret = credentials.webhook_secret(session, store.vault)
    finally:
        store.close()
    assert secret is not None
    return secret


def choose_invoice_settings(
    settings: Settings, realm_id: str, *, discount_account: str | None, untaxed_code: str | None
) -> None:
    """The default discount account and the code for untaxed lines, as the operator's step
    stores them (the service reads them at each invoice)."""
    store = Store.open(settings)
    try:
        with session_scope(store.engine) as session:
            row = choices.settings_row(session, realm_id)
            row.default_discount_account_id = discount_account
            row.untaxed_tax_code_id = untaxed_code
            session.add(row)
    finally:
        store.close()


def decide(settings: Settings, event_id: str, action: str, *, qbo_id: str | None = None) -> None:
    """The operator's answer to an event in review, as the admin API's decide stores it (audited
    as "test"); the service's workers carry it out."""
    store = Store.open(settings)
    try:
        review.decide(store.engine, event_id, action, actor="test", qbo_id=qbo_id)
    finally:
        store.close()


def queue_empty(settings: Settings) -> bool:
    store = Store.open(settings)
    try:
        queue = store.queue_info()
    finally:
        store.close()
    return queue.queued + queue.running + queue.waiting == 0


def stored(settings: Settings, model: type) -> list[Any]:
    store = Store.open(settings)
    try:
        with store.session() as session:
            return list(session.exec(select(model)).all())
    finally:
        store.close()


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


def plant_mismatch(
    settings: Settings, event_id: str, invoice_id: str, qbo_id: str, details: dict[str, Any]
) -> None:
    """An ``invoice.created`` event and its job, as a push that wrote the invoice with other
    totals than the bill's leaves them (no link: that needs a connected company)."""
    store = Store.open(settings)
    try:
        with session_scope(store.engine) as session:
            payload = {"type": "invoice.created", "data": {"id": invoice_id}}
            session.add(
                Event(
                    id=event_id,
                    type="invoice.created",
                    record_kind="invoice",
                    record_id=invoice_id,
                    payload=payload,
                    status="mismatch",
                    attempts=1,
                    qbo_id=qbo_id,
                    details=details,
                    first_response={"event_id": event_id, "status": "queued"},
                )
            )
            session.flush()
            session.add(
                Job(
                    event_id=event_id,
                    kind="invoice.created",
                    record_key=f"invoice:{invoice_id}",
                    state="mismatch",
                    attempts=1,
                )
            )
    finally:
        store.close()


def plant_review(
    settings: Settings,
    event_id: str,
    record_kind: str,
    record_id: str,
    case: ReviewCase,
    *,
    data: dict[str, Any] | None = None,
) -> None:
    """A ``<record_kind>.created`` event and its job, as a push that raised ``Ask(case)`` leaves
    them: in ``review``, the case in the event's details, nothing written. ``data`` is the
    event's record (the contract's shape); by default the JobRoutr side of the case as a record.
    Written in one transaction, so a running service's workers never see it queued."""
    record = data if data is not None else _record_of(record_kind, record_id, case)
    event_type = f"{record_kind}.created"
    store = Store.open(settings)
    try:
        with session_scope(store.engine) as session:
            session.add(
                Event(
                    id=event_id,
                    type=event_type,
                    record_kind=record_kind,
                    record_id=record_id,
                    payload={"type": event_type, "data": record},
                    status=EventStatus.REVIEW,
                    attempts=1,
                    details={"review": case.to_builtins()},
                    first_response={"event_id": event_id, "status": "queued"},
                )
            )
            session.flush()
            session.add(
                Job(
                    event_id=event_id,
                    kind=event_type,
                    record_key=f"{record_kind}:{record_id}",
                    state=JobState.REVIEW,
                    attempts=1,
                )
            )
    finally:
        store.close()


def _record_of(record_kind: str, record_id: str, case: ReviewCase) -> dict[str, Any]:
    shown = case.jobroutr
    if record_kind == "customer":
        fields = {"display_name": "name", "email": "email", "phone": "phone"}
    else:
        fields = {"name": "name", "sku": "sku", "description": "description", "price": "price"}
    record: dict[str, Any] = {"id": record_id}
    record |= {key: shown[field] for key, field in fields.items() if field in shown}
    return record
