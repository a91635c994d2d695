"""An invoice written to QuickBooks whose totals QuickBooks figured otherwise ends ``mismatch``:
never ``done``, its link written (it is in QuickBooks and must never be written twice) with QBO's
figures, its event holding both sides' totals; finished, so the record's later events go on. The
operator accepts it (``done``, who and when kept, audited) or retries it (queued again with a
new requestid, its link kept, so the retry updates the invoice already in QuickBooks).

The invoice's push is a stand-in registered for ``invoice.created`` (the real writer's read-back
has its own tests): what is tested here is everything after a push answers ``Written``."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import col, select

from appliance.core.activity import PUSH_MISMATCH
from appliance.core.kinds import INVOICE
from appliance.storage import push as jobs
from appliance.storage import queue, review
from appliance.storage.events import accept
from appliance.storage.models import AuditEntry, Company, Event, Job, Link
from appliance.storage.outcomes import Done, Mismatch
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push import Pusher
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.registry import BY_EVENT
from tests.harness.store import recent_audit

REALM = "9341453050071776"
LEASE = timedelta(seconds=60)
QBO_ID = "171"
NEW = "written anew"  # the stand-in adds the record's link to a Written with this note
FIGURES = {
    "doc_number": "JR-10042",
    "total": "236.86",
    "tax": "19.36",
    "balance": "236.86",
    "state": "open",
    "read_at": "2026-12-07T08:30:00+00:00",
}
MISMATCH = {
    "qbo": {"total": "236.86", "tax": "19.36"},
    "jobroutr": {"total": "236.85", "tax": "19.35"},
}


class NoBooks:
    """The stand-in push never calls QuickBooks."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"QuickBooks was called ({name})")


@pytest.fixture
def store(store: Store) -> Store:
    """The initialised store with the company the invoices belong to."""
    with store.session() as session:
        session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
        session.commit()
    return store


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[Written]:
    """What the invoice push answers, in turn (the stand-in takes the first left)."""
    queued: list[Written] = []

    async def push(job: PushJob) -> Written:
        written = queued.pop(0)
        if written.note != NEW:
            return written
        # A first write: the link of this job's record, as the real push makes it.
        return replace(written, link=job.link(INVOICE, written.qbo_id))

    monkeypatch.setitem(BY_EVENT, "invoice.created", KindPush(INVOICE, ("invoice.created",), push))
    return queued


def receive(store: Store, event_id: str, invoice: str = "inv_0007") -> None:
    accept(
        store.engine,
        event_id=event_id,
        event_type="invoice.created",
        payload={"type": "invoice.created", "data": {"id": invoice}},
        realm_id=REALM,
        occurred_at=None,
        known=True,
    )


def run_once(pusher: Pusher) -> None:
    assert asyncio.run(pusher.run_one("worker"))


def rows(store: Store, event_id: str) -> tuple[Event, Job, Link | None]:
    with store.session() as session:
        event = session.get(Event, event_id)
        job = session.exec(select(Job).where(col(Job.event_id) == event_id)).one()
        link = session.get(Link, (REALM, INVOICE.name, "inv_0007"))
    assert event is not None
    return event, job, link


def mismatched(store: Store, answers: list[Written], event_id: str = "evt_1") -> Pusher:
    receive(store, event_id)
    answers.append(Written(QBO_ID, note=NEW, figures=FIGURES, mismatch=MISMATCH))
    pusher = Pusher(store, NoBooks())  # type: ignore[arg-type]
    run_once(pusher)
    return pusher


def test_a_write_whose_totals_differ_ends_mismatch_with_its_link_and_both_figures(
    store: Store, answers: list[Written]
) -> None:
    pusher = mismatched(store, answers)

    event, job, link = rows(store, "evt_1")
    assert job.state == "mismatch"
    assert event.status == "mismatch"  # never done
    assert event.qbo_id == QBO_ID
    assert event.details == MISMATCH
    assert event.error_code is None
    assert link is not None  # in QuickBooks: a retry updates it, nothing writes it again
    assert link.qbo_id == QBO_ID
    assert link.figures == FIGURES
    assert pusher.activity.totals[PUSH_MISMATCH] == 1
    assert store.queue_info().mismatch == 1
    assert jobs.counts(store.engine)["mismatch"] == 1


def test_a_mismatch_is_finished_so_a_later_event_of_the_invoice_goes_on(
    store: Store, answers: list[Written]
) -> None:
    mismatched(store, answers)
    receive(store, "evt_2")
    claim = queue.claim(store.engine, "w", LEASE)
    assert claim is not None
    assert claim.event_id == "evt_2"


def test_a_done_write_keeps_quickbooks_figures_on_the_link(
    store: Store, answers: list[Written]
) -> None:
    receive(store, "evt_1")
    answers.append(Written(QBO_ID, note=NEW, figures={**FIGURES, "total": "236.85"}))
    run_once(Pusher(store, NoBooks()))  # type: ignore[arg-type]

    event, job, link = rows(store, "evt_1")
    assert (job.state, event.status, event.details) == ("done", "done", None)
    assert link is not None
    assert link.figures is not None
    assert link.figures["total"] == "236.85"


def test_figures_of_an_update_go_on_the_link_the_record_has(
    store: Store, answers: list[Written]
) -> None:
    mismatched(store, answers)
    review.retry(store.engine, ["evt_1"], actor="t")
    # The retry updates the linked invoice: no new link, QBO's new figures on the one there.
    fixed = {**FIGURES, "total": "236.85", "tax": "19.35"}
    answers.append(Written(QBO_ID, figures=fixed))
    run_once(Pusher(store, NoBooks()))  # type: ignore[arg-type]

    event, job, link = rows(store, "evt_1")
    assert (job.state, event.status) == ("done", "done")
    assert link is not None
    assert link.figures == fixed


def test_accept_ends_a_mismatch_done_keeping_who_and_when_and_is_audited(
    store: Store, answers: list[Written]
) -> None:
    mismatched(store, answers)

    assert review.accept(store.engine, ["evt_1", "evt_1"], actor="dana@cli") == ["evt_1"]

    event, job, link = rows(store, "evt_1")
    assert (job.state, event.status) == ("done", "done")
    assert event.details is not None
    assert {k: event.details[k] for k in ("qbo", "jobroutr")} == MISMATCH
    assert event.details["accepted"]["by"] == "dana@cli"
    assert event.details["accepted"]["at"]
    assert link is not None  # untouched
    assert link.figures == FIGURES
    with store.session() as session:
        [entry] = [e for e in recent_audit(session) if e.action == "events.accept"]
    assert isinstance(entry, AuditEntry)
    assert entry.actor == "dana@cli"
    assert entry.detail == {"events": ["evt_1"], "count": 1, "figures": {"evt_1": MISMATCH}}
    with pytest.raises(review.NotRetryableError):  # accepted is for good
        review.accept(store.engine, ["evt_1"], actor="dana@cli")


def test_retry_requeues_a_mismatch_with_a_new_requestid_and_keeps_its_link(
    store: Store, answers: list[Written]
) -> None:
    mismatched(store, answers)
    _, before, _ = rows(store, "evt_1")

    assert review.retry(store.engine, ["evt_1"], actor="dana@cli") == ["evt_1"]

    event, job, link = rows(store, "evt_1")
    assert (job.state, event.status, event.details) == ("queued", "queued", None)
    assert job.generation == before.generation + 1  # QBO must not answer with the first write
    assert job.request_id is None
    assert link is not None
    assert link.qbo_id == QBO_ID


def test_a_mismatch_cannot_be_skipped_and_only_a_mismatch_can_be_accepted(
    store: Store, answers: list[Written]
) -> None:
    mismatched(store, answers)
    receive(store, "evt_other", invoice="inv_other")
    claim = queue.claim(store.engine, "w", LEASE)
    assert claim is not None
    assert jobs.load(store.engine, claim) is not None
    assert jobs.complete(store.engine, claim, Done(REALM, "172"))

    with pytest.raises(review.NotRetryableError) as skipped:
        review.skip(store.engine, ["evt_1"], actor="t")
    assert skipped.value.status == "mismatch"
    with pytest.raises(review.NotRetryableError) as refused:
        review.accept(store.engine, ["evt_1", "evt_other"], actor="t")
    assert refused.value.event_id == "evt_other"
    assert rows(store, "evt_1")[0].status == "mismatch"  # nothing changed
    assert review.retry(store.engine, None, actor="t") == []  # all failed: not the mismatch


def test_the_settler_never_turns_a_mismatch_into_done(store: Store) -> None:
    pusher = Pusher(store, NoBooks())  # type: ignore[arg-type]
    receive(store, "evt_1")
    claim = queue.claim(store.engine, "w", LEASE)
    assert claim is not None
    work = jobs.load(store.engine, claim)
    assert work is not None
    outcome = pusher.settler.done(work, REALM, Written(QBO_ID, figures=FIGURES, mismatch=MISMATCH))
    assert isinstance(outcome, Mismatch)
    assert outcome.state == "mismatch"
    assert (outcome.qbo_id, outcome.details, outcome.figures) == (QBO_ID, MISMATCH, FIGURES)
    done = pusher.settler.done(work, REALM, Written(QBO_ID, figures=FIGURES))
    assert isinstance(done, Done)
    assert done.figures == FIGURES
