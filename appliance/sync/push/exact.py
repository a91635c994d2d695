"""Exact links and QuickBooks' decisions: what the customer and product pushes check before they
write to a QuickBooks record they know by id (docs/push.md, "Exact links and QuickBooks'
decisions").

* An event with ``qbo_id`` and no link yet is about exactly that QuickBooks record: it must exist,
  be of the right kind and not be linked to another JobRoutr record (``claim``), else the event
  fails with the reason. A record already linked elsewhere is never re-pointed (``same_link``).
* What is known of the record comes from the mirror row (its SyncToken, Active and data), else
  from reading it (``known``). When its data already has JobRoutr's in every field JobRoutr owns
  (``unchanged``), the link is made without a write.
* A record QuickBooks has inactive is never made active again without the operator
  (``check_active``, and ``guard`` for a record read just before a write): the event goes to
  review, and only their ``link`` decision sends ``Active`` true.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.core import review
from appliance.core.kinds import CUSTOMER, RecordKind
from appliance.qbo.errors import ValidationError
from appliance.storage import push as jobs
from appliance.storage.mirror import MODELS, MirrorRow
from appliance.sync.fields import Mapped, field
from appliance.sync.push import steps
from appliance.sync.push.job import PushJob
from appliance.sync.push.outcome import Ask, Refused

RowOf = Callable[[dict[str, Any]], Mapped]
Guard = Callable[[dict[str, Any]], None]

#: The contract's product types as QuickBooks' item types (the mirror keeps the former).
QBO_TYPES = {"service": "Service", "non_inventory": "NonInventory", "inventory": "Inventory"}


@dataclass(frozen=True)
class Known:
    """One QuickBooks record as known before a write: from its mirror row, else as read just now.
    ``data`` is in the contract's shape (empty when the mirror cannot keep the record)."""

    qbo_id: str
    sync_token: str | None
    active: bool
    data: dict[str, Any]
    qbo_type: str | None = None  # items: QuickBooks' Type ("Inventory", "Category", ...)


def nouns(kind: RecordKind) -> tuple[str, str]:
    """What JobRoutr and QuickBooks call a record of the kind."""
    return ("customer", "customer") if kind == CUSTOMER else ("product", "item")


def named(job: PushJob) -> str | None:
    """The QuickBooks record the event says it is (``qbo_id``), if it says."""
    return field(job.data, "qbo_id")


def from_record(record: dict[str, Any], row_of: RowOf) -> Known:
    row = row_of(record)
    return Known(
        str(record["Id"]),
        str(record["SyncToken"]) if record.get("SyncToken") is not None else None,
        record.get("Active", True) is not False,
        row.data if isinstance(row, MirrorRow) else {},
        str(record["Type"]) if record.get("Type") else None,
    )


def _mirrored(job: PushJob, kind: RecordKind, qbo_id: str) -> Known | None:
    with job.store.session() as session:
        row = session.get(MODELS[kind.plural], (job.realm, qbo_id))
        if row is None:
            return None
        data = dict(row.data or {})
        qbo_type = QBO_TYPES.get(str(data.get("type"))) if kind != CUSTOMER else None
        return Known(qbo_id, row.sync_token, bool(row.active), data, qbo_type)


async def known(job: PushJob, kind: RecordKind, qbo_id: str, row_of: RowOf) -> Known | None:
    """The mirror row's SyncToken, Active and data, else the record as read; None when
    QuickBooks has no such record (610)."""
    found = await asyncio.to_thread(_mirrored, job, kind, qbo_id)
    if found is not None:
        return found
    try:
        record = await job.qbo.read(job.realm, kind.entity, qbo_id)
    except ValidationError as exc:
        if exc.qbo_code == "610":
            return None
        raise
    return from_record(record, row_of)


def same_link(job: PushJob, kind: RecordKind, linked: str) -> None:
    """Refused when the event names another QuickBooks record than the one it is linked to: a
    link is never re-pointed on its own."""
    said = named(job)
    if said is None or said == linked:
        return
    ours, theirs = nouns(kind)
    raise Refused(
        "qbo-id-changed",
        f"This {ours} is linked to QuickBooks {theirs} {linked}, but JobRoutr now says it is "
        f"QuickBooks {theirs} {said}; a link is never changed on its own, so nothing was written.",
        f"Check which QuickBooks {theirs} it is. If JobRoutr's QuickBooks id is wrong, correct "
        "it in JobRoutr (it will send the record again) and skip this event (`appliance events "
        "skip ID`); if the link is wrong, tell support.",
    )


def unknown(kind: RecordKind, qbo_id: str) -> Refused:
    ours, theirs = nouns(kind)
    return Refused(
        "qbo-id-unknown",
        f"JobRoutr says this {ours} is QuickBooks {theirs} {qbo_id}, but QuickBooks has no such "
        f"{theirs}.",
        f"The {theirs} may have been deleted or merged in QuickBooks. Correct the {ours}'s "
        "QuickBooks id in JobRoutr (it will send it again) and skip this event (`appliance "
        "events skip ID`); or, if it was deleted by mistake, restore it in QuickBooks and retry "
        "the event.",
    )


def wrong_kind(kind: RecordKind, qbo_id: str, what: str) -> Refused:
    ours, theirs = nouns(kind)
    return Refused(
        "qbo-id-kind",
        f"JobRoutr says this {ours} is QuickBooks {theirs} {qbo_id}, but that {theirs} is {what}.",
        f"Correct the {ours}'s QuickBooks id (or its type) in JobRoutr; it will send it again. "
        "Then skip this event (`appliance events skip ID`).",
    )


async def claim(job: PushJob, kind: RecordKind, qbo_id: str, row_of: RowOf) -> Known:
    """The record an event names by ``qbo_id``, checked: it exists and no other JobRoutr record
    is linked to it (its kind is the record kind's to check)."""
    holder = await asyncio.to_thread(jobs.linked_to, job.store.engine, job.realm, kind.name, qbo_id)
    if holder is not None and holder != job.jobroutr_id:
        ours, theirs = nouns(kind)
        raise Refused(
            "qbo-id-taken",
            f"JobRoutr says this {ours} is QuickBooks {theirs} {qbo_id}, but that {theirs} is "
            f"already linked to JobRoutr {ours} {holder}, so this {ours} was not linked to it.",
            f"Two JobRoutr {ours}s name the same QuickBooks {theirs}: merge them in JobRoutr, or "
            f"correct this {ours}'s QuickBooks id (it will send it again); then skip this event.",
        )
    found = await known(job, kind, qbo_id, row_of)
    if found is None:
        raise unknown(kind, qbo_id)
    return found


def unchanged(ours: dict[str, Any], theirs: dict[str, Any], optional: tuple[str, ...]) -> bool:
    """QuickBooks' record (``theirs``, as a body made from its data) already has every field of
    JobRoutr's (``ours``), and none of the optional ones JobRoutr's lacks: an update would change
    nothing."""
    if any(theirs.get(key) != value for key, value in ours.items()):
        return False
    return not any(key in theirs for key in optional if key not in ours)


def may_revive(job: PushJob, qbo_id: str) -> bool:
    """The operator decided to link this record, which makes it active again."""
    decision = job.decision
    return (
        decision is not None
        and decision.action == review.LINK
        and decision.qbo_id in (None, qbo_id)
    )


async def restored(job: PushJob, kind: RecordKind, linked: bool) -> bool:
    """JobRoutr restores a record it had archived: the version the appliance last wrote of this
    linked record was archived, so QuickBooks has it inactive on JobRoutr's word, not the
    bookkeeper's, and making it active again needs no question."""
    if not linked:
        return False
    return await asyncio.to_thread(
        jobs.archived_last, job.store.engine, job.realm, kind.name, job.jobroutr_id
    )


def step_of(job: PushJob, record: Known, step: str) -> str:
    """The step code of an update: ``REVIVE`` once the operator said to link (a write of its own,
    never one an earlier attempt sent), else ``step``."""
    return steps.REVIVE if may_revive(job, record.qbo_id) else step


def inactive_case(job: PushJob, kind: RecordKind, qbo_id: str, data: dict[str, Any]) -> Ask:
    ours, theirs = nouns(kind)
    candidate = review.summary(kind.name, data, qbo_id)
    label = candidate.get("name", qbo_id)
    return Ask(
        review.ReviewCase(
            kind=kind.name,
            reason=review.INACTIVE,
            message=f"QuickBooks {theirs} {label!r} was made inactive in QuickBooks, but the "
            f"{ours} is active in JobRoutr. It is not made active again without your word.",
            jobroutr=review.summary(kind.name, job.data),
            candidate=candidate,
            choices={
                review.LINK: "Make it active again in QuickBooks and write JobRoutr's record",
                review.SKIP: f"Write nothing; the {theirs} stays inactive in QuickBooks",
            },
        )
    )


def check_active(
    job: PushJob, kind: RecordKind, record: Known, body: dict[str, Any], *, ours: bool = False
) -> None:
    """Raise ``Ask`` (reason inactive) when the write would make active again a record that
    QuickBooks has inactive, and neither the operator has said to nor was it JobRoutr's own
    archive (``ours``, see ``restored``)."""
    if record.active or body.get("Active") is not True or ours or may_revive(job, record.qbo_id):
        return
    raise inactive_case(job, kind, record.qbo_id, record.data)


def guard(
    job: PushJob, kind: RecordKind, body: dict[str, Any], row_of: RowOf, *, ours: bool = False
) -> Guard:
    """``check_active`` for a record ``PushJob.sparse_update`` reads before it writes."""

    def check(record: dict[str, Any]) -> None:
        check_active(job, kind, from_record(record, row_of), body, ours=ours)

    return check
