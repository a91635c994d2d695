"""Intake's group commit: events that arrive together are stored in one transaction, each answered
only once committed, duplicates get the first answer, job ids follow the order received, one bad
event cannot fail the others, and before the first connect the jobs wait for it at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from appliance.storage.events import Incoming, Unconnected, accept_many
from appliance.storage.models import Company, Event, Job
from appliance.storage.push import park_unconnected
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.intake import Intake

WAIT = Unconnected("a QuickBooks connection", timedelta(seconds=60))


def incoming(event_id: str, record: str = "c1", kind: str = "customer.created") -> Incoming:
    payload = {"type": kind, "data": {"id": record}}
    return Incoming(event_id, kind, payload, None, None, known=kind != "job.created")


def jobs_of(store: Store) -> list[Job]:
    with Session(store.engine) as session:
        return list(session.exec(select(Job).order_by(col(Job.id))).all())


def connect_a_company(store: Store) -> None:
    with Session(store.engine) as session:
        session.add(Company(realm_id="9130", environment="sandbox", connected_at=utcnow()))
        session.commit()


def test_a_batch_stores_each_id_once_answers_duplicates_first_and_keeps_the_order(
    store: Store,
) -> None:
    [earlier] = accept_many(store.engine, [incoming("evt_0", "c0")])
    assert (earlier.response, earlier.duplicate) == (
        {"event_id": "evt_0", "status": "queued"},
        False,
    )

    batch = [
        incoming("evt_1", "c1"),
        incoming("evt_0", "c0"),  # stored before
        incoming("evt_2", "c1"),
        incoming("evt_1", "c1"),  # twice in this batch
        incoming("evt_3", "x", kind="job.created"),  # a type the gateway does not push
    ]
    answers = accept_many(store.engine, batch)

    assert [(a.response["event_id"], a.duplicate) for a in answers] == [
        ("evt_1", False),
        ("evt_0", True),
        ("evt_2", False),
        ("evt_1", True),
        ("evt_3", False),
    ]
    assert answers[4].response["status"] == "ignored"
    with Session(store.engine) as session:
        assert len(session.exec(select(Event)).all()) == 4
    # One job per pushed event, in the order received: evt_1 before evt_2 for record c1.
    assert [job.event_id for job in jobs_of(store)] == ["evt_0", "evt_1", "evt_2"]
    assert {job.state for job in jobs_of(store)} == {"queued"}


def test_before_the_first_connect_the_jobs_wait_for_it_and_after_it_they_queue(
    store: Store,
) -> None:
    [waiting] = accept_many(store.engine, [incoming("evt_a")], WAIT)
    assert waiting.waiting
    assert waiting.response["status"] == "queued"  # the answer JobRoutr got
    [job] = jobs_of(store)
    assert (job.state, job.waits_on, job.waiting_for) == (
        "waiting",
        " connection ",
        "a QuickBooks connection",
    )
    with Session(store.engine) as session:
        event = session.get(Event, "evt_a")
        assert event is not None
        assert event.status == "waiting"

    connect_a_company(store)
    [queued] = accept_many(store.engine, [incoming("evt_b")], WAIT)
    assert not queued.waiting
    assert jobs_of(store)[-1].state == "queued"


def test_concurrent_requests_share_commits_and_each_is_stored_when_answered(
    store: Store,
) -> None:
    intake = Intake(store)
    stored_when_answered: list[bool] = []

    async def one(number: int) -> None:
        answer = await intake.accept(incoming(f"evt_{number}", f"c{number % 7}"))
        assert not answer.duplicate
        with Session(store.engine) as session:  # another connection sees it: it is committed
            stored_when_answered.append(session.get(Event, f"evt_{number}") is not None)

    async def main() -> None:
        await asyncio.gather(*(one(n) for n in range(200)))
        await intake.aclose()

    asyncio.run(main())
    assert stored_when_answered == [True] * 200
    assert intake.events == 200
    assert intake.commits < 200 / 4, f"{intake.commits} commits for 200 events: not grouped"
    # Per record, jobs are in the order the requests were made.
    for record in range(7):
        ids = [j.event_id for j in jobs_of(store) if j.record_key == f"customer:c{record}"]
        numbers = [int(str(i).removeprefix("evt_")) for i in ids]
        assert numbers == sorted(numbers)


def test_one_event_that_cannot_be_stored_does_not_fail_the_others(store: Store) -> None:
    intake = Intake(store)
    bad = Incoming(
        "evt_bad", "customer.created", {"data": {"id": "c1", "x": {1, 2}}}, None, None, True
    )

    async def main() -> list[Any]:
        results = await asyncio.gather(
            intake.accept(incoming("evt_good_1", "c1")),
            intake.accept(bad),
            intake.accept(incoming("evt_good_2", "c2")),
            return_exceptions=True,
        )
        await intake.aclose()
        return results

    good_1, failed, good_2 = asyncio.run(main())
    assert isinstance(failed, Exception)
    assert not good_1.duplicate
    assert not good_2.duplicate
    assert [job.event_id for job in jobs_of(store)] == ["evt_good_1", "evt_good_2"]


def test_jobs_due_again_before_any_connect_wait_again_in_one_statement(store: Store) -> None:
    accept_many(store.engine, [incoming(f"evt_{n}", f"c{n}") for n in range(3)])
    until = utcnow() + timedelta(seconds=60)
    assert park_unconnected(store.engine, waiting_for="a connection", until=until) == 3
    assert {(job.state, job.waits_on) for job in jobs_of(store)} == {("waiting", " connection ")}
    with Session(store.engine) as session:
        assert {e.status for e in session.exec(select(Event)).all()} == {"waiting"}

    accept_many(store.engine, [incoming("evt_late", "c9")])
    connect_a_company(store)  # from now on the push workers decide, per job
    assert park_unconnected(store.engine, waiting_for="a connection", until=until) == 0
    assert jobs_of(store)[-1].state == "queued"
