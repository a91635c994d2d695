"""The operator's hand on pushed events, in the store: retry re-queues failed (or waiting) events
with a new requestid unless the outcome was uncertain, skip ends them ignored, an event that may
not be touched refuses the whole request with nothing changed, and both are audited."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from appliance.storage import push as jobs
from appliance.storage import queue, review
from appliance.storage.events import accept
from appliance.storage.models import AuditEntry, Event, Job
from appliance.storage.outcomes import Failure
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push import Pusher
from tests.harness.store import recent_audit, remember_request_id

pytestmark = pytest.mark.stores

LEASE = timedelta(seconds=60)


def receive(store: Store, event_id: str, record: str | None = None) -> None:
    accept(
        store.engine,
        event_id=event_id,
        event_type="customer.created",
        payload={"type": "customer.created", "data": {"id": record or f"cus_{event_id}"}},
        realm_id=None,
        occurred_at=None,
        known=True,
    )


def take(store: Store, event_id: str) -> queue.Claim:
    """Claim the event's job (the only runnable one) and load it: the event shows running."""
    claim = queue.claim(store.engine, "test-worker", LEASE)
    assert claim is not None
    assert claim.event_id == event_id
    assert jobs.load(store.engine, claim) is not None
    return claim


def failed(store: Store, event_id: str, code: str = "6240") -> None:
    receive(store, event_id)
    claim = take(store, event_id)
    assert remember_request_id(store.engine, claim.job_id, claim.fence, f"{event_id}:w")
    failure = Failure(code, f"QuickBooks refused it ({code}).", "Rename it, then retry.")
    assert jobs.complete(store.engine, claim, jobs.Failed(failure))


def ended(store: Store, event_id: str, state: str, **kwargs: Any) -> None:
    receive(store, event_id)
    claim = take(store, event_id)
    outcomes = {
        "done": jobs.Done,
        "failed": jobs.Failed,
        "queued": jobs.RetryLater,
        "waiting": jobs.Waiting,
    }
    assert jobs.complete(store.engine, claim, outcomes[state](**kwargs))


def _later() -> datetime:
    return utcnow() + timedelta(hours=1)


def state(store: Store, event_id: str) -> tuple[Event, Job]:
    with store.session() as session:
        event = session.get(Event, event_id)
        job = session.exec(select(Job).where(col(Job.event_id) == event_id)).one()
    assert event is not None
    return event, job


def audit_log(store: Store) -> list[AuditEntry]:
    with store.session() as session:
        return [e for e in recent_audit(session) if e.action.startswith("events.")]


def test_retry_of_a_definitely_refused_event_requeues_it_with_a_new_requestid(
    store: Store,
) -> None:
    failed(store, "evt_refused", code="6240")
    before_event, before_job = state(store, "evt_refused")
    assert before_event.status == "failed"
    assert before_job.request_id == "evt_refused:w"

    assert review.retry(store.engine, ["evt_refused"], actor="dana@cli") == ["evt_refused"]

    event, job = state(store, "evt_refused")
    assert event.status == "queued"
    assert (event.error_code, event.error_message, event.error_hint) == (None, None, None)
    assert job.state == "queued"
    assert job.generation == before_job.generation + 1
    assert job.request_id is None  # QuickBooks would answer the old one with its refusal
    assert job.attempts == 0
    assert job.run_after <= event.updated_at
    assert queue.claim(store.engine, "w", LEASE) is not None  # runnable at once

    [entry] = audit_log(store)
    assert entry.action == "events.retry"
    assert entry.actor == "dana@cli"
    assert entry.detail == {"events": ["evt_refused"], "count": 1}


def test_retry_after_giving_up_keeps_the_requestid_so_nothing_is_written_twice(
    store: Store,
) -> None:
    failed(store, "evt_unsure", code="gave-up")
    _, before = state(store, "evt_unsure")

    assert review.retry(store.engine, ["evt_unsure"], actor="dana@cli") == ["evt_unsure"]

    event, job = state(store, "evt_unsure")
    assert event.status == "queued"
    assert job.state == "queued"
    assert job.generation == before.generation
    assert job.request_id == "evt_unsure:w"


def test_a_waiting_event_can_be_retried(store: Store) -> None:
    ended(store, "evt_wait", "waiting", waiting_for="a QuickBooks connection", run_after=_later())
    assert review.retry(store.engine, ["evt_wait"], actor="t") == ["evt_wait"]
    event, job = state(store, "evt_wait")
    assert event.status == "queued"
    assert job.state == "queued"
    assert job.waiting_for is None


@pytest.mark.parametrize("other", ["done", "unknown", "running", "ignored"])
def test_retry_or_skip_of_an_event_that_is_not_stuck_refuses_and_changes_nothing(
    store: Store, other: str
) -> None:
    failed(store, "evt_failed")
    if other == "done":
        ended(store, "evt_other", "done", qbo_id="58")
    elif other == "running":
        receive(store, "evt_other")
        take(store, "evt_other")
    elif other == "ignored":
        failed(store, "evt_other")
        review.skip(store.engine, ["evt_other"], actor="t")
    target = "evt_nope" if other == "unknown" else "evt_other"
    expected_status = None if other == "unknown" else other
    entries = len(audit_log(store))
    snapshot = {
        i: state(store, i) for i in ("evt_failed", *(() if other == "unknown" else (target,)))
    }

    for action in (review.retry, review.skip):
        with pytest.raises(review.NotRetryableError) as refused:
            action(store.engine, ["evt_failed", target], actor="t")
        assert refused.value.event_id == target
        assert refused.value.status == expected_status

    for event_id, (event, job) in snapshot.items():
        now_event, now_job = state(store, event_id)
        assert now_event.status == event.status
        assert now_event.error_code == event.error_code
        assert (now_job.state, now_job.generation, now_job.request_id) == (
            job.state,
            job.generation,
            job.request_id,
        )
    assert state(store, "evt_failed")[0].status == "failed"
    assert len(audit_log(store)) == entries


def test_retry_of_all_failed_takes_only_the_failed_ones_in_the_order_received(
    store: Store,
) -> None:
    failed(store, "evt_z")  # received first, though its id sorts last
    ended(store, "evt_m", "waiting", waiting_for="customer cus_1", run_after=_later())
    ended(store, "evt_d", "done", qbo_id="7")
    failed(store, "evt_a", code="gave-up")
    ended(
        store,
        "evt_q",
        "queued",
        failure=Failure("transient", "QuickBooks said 503."),
        run_after=_later(),
    )

    assert review.retry(store.engine, None, actor="dana@cli") == ["evt_z", "evt_a"]

    assert [state(store, i)[0].status for i in ("evt_z", "evt_m", "evt_d", "evt_a", "evt_q")] == [
        "queued",
        "waiting",
        "done",
        "queued",
        "queued",
    ]
    [entry] = audit_log(store)
    assert entry.detail == {"events": ["evt_z", "evt_a"], "count": 2}
    assert review.retry(store.engine, None, actor="t") == []
    assert len(audit_log(store)) == 1  # nothing retried, nothing audited


def test_skip_ends_a_failed_event_as_ignored_with_code_skipped(store: Store) -> None:
    failed(store, "evt_skip")

    assert review.skip(store.engine, ["evt_skip"], actor="dana@cli") == ["evt_skip"]

    event, job = state(store, "evt_skip")
    assert event.status == "ignored"
    assert event.error_code == "skipped"
    assert event.error_message == review.SKIPPED.message
    assert event.error_hint is None
    assert job.state == "done"
    assert job.lease_owner is None
    [entry] = audit_log(store)
    assert entry.action == "events.skip"
    assert entry.actor == "dana@cli"
    assert entry.detail == {"events": ["evt_skip"], "count": 1}
    with pytest.raises(review.NotRetryableError):
        review.retry(store.engine, ["evt_skip"], actor="t")  # skipped is for good


def test_skipping_a_waiting_event_lets_the_later_events_of_its_record_go_on(
    store: Store,
) -> None:
    ended(store, "evt_held", "waiting", waiting_for="customer cus_9", run_after=_later())
    receive(store, "evt_next", record="cus_evt_held")  # the same record, received after
    assert queue.claim(store.engine, "w", LEASE) is None  # it waits behind the waiting one

    assert review.skip(store.engine, ["evt_held"], actor="t") == ["evt_held"]

    claim = queue.claim(store.engine, "w", LEASE)
    assert claim is not None
    assert claim.event_id == "evt_next"


def test_skip_of_all_failed_leaves_waiting_ones(store: Store) -> None:
    failed(store, "evt_f1")
    ended(store, "evt_w", "waiting", waiting_for="default accounts", run_after=_later())
    failed(store, "evt_f2")
    assert sorted(review.skip(store.engine, None, actor="t")) == ["evt_f1", "evt_f2"]
    assert state(store, "evt_w")[0].status == "waiting"
    assert jobs.counts(store.engine) == {"ignored": 2, "waiting": 1}


class Stalled:
    """A QBO client whose every call hangs, as a QBO call in flight when the service stops."""

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def query(self, realm_id: str, statement: str) -> dict[str, Any]:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_job_in_flight_when_the_service_stops_is_handed_back_at_once(store: Store) -> None:
    accept(
        store.engine,
        event_id="evt_stop",
        event_type="customer.created",
        payload={"type": "customer.created", "data": {"id": "cus_stop", "company_name": "S"}},
        realm_id="9341453050071776",
        occurred_at=None,
        known=True,
    )

    async def stop_mid_call() -> None:
        qbo = Stalled()
        pusher = Pusher(store, qbo)  # type: ignore[arg-type]
        running = asyncio.ensure_future(pusher.run_one("worker"))
        await asyncio.wait_for(qbo.called.wait(), 10)
        running.cancel()  # what stopping the service does to a worker
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(stop_mid_call())
    with store.session() as session:
        job = session.exec(select(Job)).one()
        event = session.get(Event, "evt_stop")
    assert job.state == "queued"  # not "running" until its lease runs out
    assert job.lease_owner is None
    assert event is not None
    assert event.status == "queued"
    again = queue.claim(store.engine, "next", LEASE)
    assert again is not None
    assert again.resumed  # its write may have been sent: the same requestid, and a read-back
