"""A record the push will not write on its own ends in ``review``: nothing written, the case (the
JobRoutr record, the QuickBooks candidate, the choices) kept on the event, a later event of the
same record waiting behind it. The operator's decision is audited, kept on the event, and handed
to the push when the job runs again (a skip ends it ``ignored`` at once).

The customer push is a stand-in registered for ``customer.created``: what is tested here is the
queue, the store and the operator's hand; the real matching rules have their own tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select

from appliance.core import review as cases
from appliance.core.activity import PUSH_REVIEW
from appliance.core.kinds import CUSTOMER
from appliance.storage import pull, queue, review
from appliance.storage.events import accept
from appliance.storage.models import Company, Event, Job
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync import events as operator
from appliance.sync.push import Pusher
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.outcome import Ask
from appliance.sync.push.registry import BY_EVENT
from tests.harness.store import recent_audit

REALM = "9341453050071776"
LEASE = timedelta(seconds=60)
JOHN = {"id": "cus_1", "display_name": "John Smith", "email": "john@example.com"}
STRANGER = {"display_name": "John Smith", "email": "js@elsewhere.example", "balance": "120.00"}


def case() -> cases.ReviewCase:
    return cases.ReviewCase(
        kind="customer",
        reason=cases.NAME,
        message="QuickBooks has a customer named 'John Smith', and nothing else agrees.",
        jobroutr=cases.summary("customer", JOHN),
        candidate=cases.summary("customer", STRANGER, qbo_id="58"),
        create_as="John Smith (2)",
        choices={
            cases.LINK: "Link to QuickBooks' John Smith (58)",
            cases.CREATE: "Create 'John Smith (2)'",
            cases.SKIP: "Skip",
        },
    )


class NoBooks:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"QuickBooks was called ({name})")


@pytest.fixture
def store(store: Store) -> Store:
    with store.session() as session:
        session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
        session.commit()
    return store


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[cases.Decision | None]:
    """The stand-in asks until it has a decision, then writes as the decision says."""
    decisions: list[cases.Decision | None] = []

    async def push(job: PushJob) -> Written:
        decisions.append(job.decision)
        if job.decision is None:
            raise Ask(case())
        qbo_id = job.decision.qbo_id or "901"
        return Written(qbo_id, job.link(CUSTOMER, qbo_id))

    kind = KindPush(CUSTOMER, ("customer.created", "customer.updated"), push)
    monkeypatch.setitem(BY_EVENT, "customer.created", kind)
    monkeypatch.setitem(BY_EVENT, "customer.updated", kind)
    return decisions


def receive(store: Store, event_id: str, kind: str = "customer.created") -> None:
    accept(
        store.engine,
        event_id=event_id,
        event_type=kind,
        payload={"type": kind, "data": JOHN},
        realm_id=REALM,
        occurred_at=None,
        known=True,
    )


def state(store: Store, event_id: str) -> tuple[Event, Job]:
    with store.session() as session:
        event = session.get(Event, event_id)
        job = session.exec(select(Job).where(col(Job.event_id) == event_id)).one()
    assert event is not None
    return event, job


def asked(store: Store) -> Pusher:
    receive(store, "evt_1")
    pusher = Pusher(store, NoBooks())  # type: ignore[arg-type]
    assert asyncio.run(pusher.run_one("w"))
    return pusher


def test_a_question_parks_the_event_in_review_with_its_case(
    store: Store, seen: list[cases.Decision | None]
) -> None:
    pusher = asked(store)

    event, job = state(store, "evt_1")
    assert (job.state, event.status) == ("review", "review")
    assert event.qbo_id is None  # nothing written
    shown = operator.show(store, "evt_1")
    assert shown is not None
    assert shown.review is not None
    assert shown.review.candidate == {
        "qbo_id": "58",
        "name": "John Smith",
        "email": "js@elsewhere.example",
        "balance": "120.00",
        "active": "yes",
    }
    assert shown.review.create_as == "John Smith (2)"
    assert shown.decision is None
    pulled = pull.event(store, "evt_1")
    assert pulled is not None
    assert pulled.review is not None
    assert pulled.review.candidate is not None
    assert pulled.review.candidate["qbo_id"] == "58"
    assert pusher.activity.totals[PUSH_REVIEW] == 1
    assert store.queue_info().review == 1


def test_a_later_event_of_the_record_waits_behind_the_question(
    store: Store, seen: list[cases.Decision | None]
) -> None:
    asked(store)
    receive(store, "evt_2", "customer.updated")
    assert queue.claim(store.engine, "w", LEASE) is None  # blocked until the operator decides


def test_link_is_audited_and_carried_out_by_the_push(
    store: Store, seen: list[cases.Decision | None]
) -> None:
    pusher = asked(store)
    shown = operator.decide(store, "evt_1", cases.LINK, actor="alice")
    assert shown.status == "queued"
    assert shown.decision is not None
    assert shown.decision.qbo_id == "58"

    assert asyncio.run(pusher.run_one("w"))
    event, job = state(store, "evt_1")
    assert (job.state, event.status, event.qbo_id) == ("done", "done", "58")
    decision = seen[-1]
    assert decision is not None
    assert (decision.action, decision.by) == ("link", "alice")
    assert event.details is not None
    assert event.details["decision"]["action"] == "link"
    with store.session() as session:
        [entry] = [e for e in recent_audit(session) if e.action == "events.decide"]
    assert entry.actor == "alice"
    assert (entry.detail["decision"], entry.detail["candidate"]) == ("link", "58")


def test_create_takes_the_name_the_operator_was_shown(
    store: Store, seen: list[cases.Decision | None]
) -> None:
    asked(store)
    decision = review.decide(store.engine, "evt_1", cases.CREATE, actor="alice")
    assert (decision.name, decision.qbo_id) == ("John Smith (2)", None)


def test_skip_ends_it_ignored_at_once_and_nothing_is_written(
    store: Store, seen: list[cases.Decision | None]
) -> None:
    pusher = asked(store)
    operator.decide(store, "evt_1", cases.SKIP, actor="alice")
    event, job = state(store, "evt_1")
    assert (job.state, event.status, event.error_code) == ("done", "ignored", "skipped")
    assert not asyncio.run(pusher.run_one("w"))
    assert len(seen) == 1


def test_retry_asks_afresh(store: Store, seen: list[cases.Decision | None]) -> None:
    asked(store)
    operator.retry(store, ["evt_1"], actor="alice")
    event, _ = state(store, "evt_1")
    assert (event.status, event.details) == ("queued", None)


def test_only_an_event_in_review_is_decided_and_only_as_offered(
    store: Store, seen: list[cases.Decision | None]
) -> None:
    asked(store)
    with pytest.raises(operator.EventRefusedError, match="not one of the choices"):
        operator.decide(store, "evt_1", "merge", actor="alice")
    event, _ = state(store, "evt_1")
    assert event.status == "review"  # nothing changed
    operator.retry(store, ["evt_1"], actor="alice")
    with pytest.raises(operator.EventRefusedError, match="is queued"):
        operator.decide(store, "evt_1", cases.LINK, actor="alice")
