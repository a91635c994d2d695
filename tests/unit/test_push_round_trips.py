"""What one pushed customer costs the store, from its claim to done: the statements sent and the
connection checks. On PostgreSQL every statement is a round trip to the server, so the count is
what makes the push as fast there as on SQLite (docs/push.md, "The store's share"). The job must
still be fenced: a worker that lost its lease writes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from appliance.storage import push as jobs
from appliance.storage import queue
from appliance.storage.db import session_scope
from appliance.storage.events import accept
from appliance.storage.mirror import WRITES, upsert_rows
from appliance.storage.models import ChangeCounter, Company, Event, Job, Link, QboCustomer
from appliance.storage.outcomes import LinkWrite
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push.customer import customer_row

pytestmark = pytest.mark.stores

REALM = "9341453050071776"
LEASE = timedelta(seconds=60)
#: Statements one customer.created job may cost, claim to done. Before: 19 on both stores (three
#: queries to choose the job, a second change number for the mirror row the link moved to...).
BOUND = {"sqlite": 15, "postgresql": 11}


@pytest.fixture
def store(store: Store) -> Store:
    with store.session() as session:
        session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
        session.commit()
    return store


@dataclass
class Counted:
    statements: list[str]
    pings: int = 0


@contextmanager
def counting(engine: Engine) -> Iterator[Counted]:
    """The statements the engine sends, and its connection checks (a ping per checkout is a round
    trip of its own, sent past the statement events)."""
    counted = Counted([])

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counted.statements.append(" ".join(statement.split())[:80])

    ping = engine.dialect.do_ping

    def pinged(dbapi_connection: Any) -> bool:
        counted.pings += 1
        return ping(dbapi_connection)

    event.listen(engine, "before_cursor_execute", seen)
    engine.dialect.do_ping = pinged  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        del engine.dialect.do_ping


def receive(store: Store, event_id: str, record: str) -> None:
    accept(
        store.engine,
        event_id=event_id,
        event_type="customer.created",
        payload={"type": "customer.created", "data": {"id": record, "company_name": record}},
        realm_id=REALM,
        occurred_at=None,
        known=True,
    )


def written(claim: queue.Claim, record: str, qbo_id: str) -> jobs.Done:
    """What the customer push settles when QuickBooks created the customer."""
    row = customer_row({"Id": qbo_id, "DisplayName": record, "SyncToken": "0"})
    assert hasattr(row, "qbo_id"), row
    link = LinkWrite("customer", record, qbo_id, None, str(claim.event_id))
    return jobs.Done(realm_id=REALM, qbo_id=qbo_id, link=link, mirror=("customers", row))  # type: ignore[arg-type]


def test_one_customer_costs_few_statements_and_no_connection_checks(store: Store) -> None:
    engine = store.engine
    receive(store, "evt_warm", "cus_warm")  # the first job warms the pool and the caches
    first = queue.claim(engine, "worker", LEASE)
    assert first is not None
    assert jobs.load(engine, first) is not None
    assert jobs.complete(engine, first, written(first, "cus_warm", "58"))
    receive(store, "evt_one", "cus_one")

    with counting(engine) as counted:
        claim = queue.claim(engine, "worker", LEASE)
        assert claim is not None
        assert claim.event_id == "evt_one"
        work = jobs.load(engine, claim)
        assert work is not None
        assert work.data["id"] == "cus_one"
        assert jobs.complete(engine, claim, written(claim, "cus_one", "59"))

    bound = BOUND[engine.dialect.name]
    assert len(counted.statements) <= bound, "\n".join(counted.statements)
    assert counted.pings == 0
    with store.session() as session:
        job = session.get(Job, claim.job_id)
        shown = session.get(Event, "evt_one")
        link = session.get(Link, (REALM, "customer", "cus_one"))
        assert job is not None
        assert job.state == "done"
        assert job.lease_owner is None
        assert shown is not None
        assert shown.status == "done"
        assert shown.qbo_id == "59"
        assert link is not None
        assert link.qbo_id == "59"


def test_the_mirror_row_a_new_link_points_at_gets_one_new_change_number(store: Store) -> None:
    """The pull shows the link with the row: one change number for both, not one each."""
    receive(store, "evt_a", "cus_a")
    claim = queue.claim(store.engine, "worker", LEASE)
    assert claim is not None
    assert jobs.complete(store.engine, claim, written(claim, "cus_a", "60"))
    with store.session() as session:
        counter = session.get(ChangeCounter, f"{REALM}:customers")
        assert counter is not None
        assert counter.value == 1


def test_a_claim_taken_over_writes_nothing(store: Store) -> None:
    receive(store, "evt_b", "cus_b")
    old = queue.claim(store.engine, "worker-1", LEASE)
    assert old is not None
    later = utcnow() + 2 * LEASE  # the first lease ran out
    new = queue.claim(store.engine, "worker-2", LEASE, now=later)
    assert new is not None
    assert new.job_id == old.job_id
    assert new.fence == old.fence + 1
    assert not jobs.complete(store.engine, old, written(old, "cus_b", "61"))
    assert jobs.complete(store.engine, new, written(new, "cus_b", "61"))
    with store.session() as session:
        job = session.get(Job, new.job_id)
        assert job is not None
        assert job.attempts == 2
        assert job.fence == new.fence


def _on_a_server(store: Store) -> None:
    if store.engine.dialect.name == "sqlite":
        pytest.skip("about a database server: SQLite takes one writer (runs with --store=postgres)")


def test_on_a_server_outcomes_are_not_written_one_at_a_time(store: Store) -> None:
    """This process's lock on mirror writes (SQLite's one writer) would queue every worker's
    outcome behind the others', each a transaction of several round trips."""
    _on_a_server(store)
    receive(store, "evt_c", "cus_c")
    claim = queue.claim(store.engine, "worker", LEASE)
    assert claim is not None
    with ThreadPoolExecutor(1) as pool:
        with WRITES:  # this thread holds the process's lock meanwhile
            recorded = pool.submit(jobs.complete, store.engine, claim, written(claim, "c", "62"))
            finished = wait([recorded], timeout=10).done
        assert finished, "the outcome waited for the process's lock"
        assert recorded.result()


def test_on_a_server_two_writers_of_one_new_mirror_row_both_succeed(store: Store) -> None:
    """Read, then insert: a second transaction inserting the same new record meanwhile (another
    worker or instance) updates it instead of failing on the key."""
    _on_a_server(store)
    row = customer_row({"Id": "63", "DisplayName": "Both", "SyncToken": "0"})

    def second() -> int:
        with session_scope(store.engine) as session:
            return upsert_rows(session, REALM, "customers", [row], None)  # type: ignore[list-item]

    with ThreadPoolExecutor(1) as pool:
        with session_scope(store.engine) as first:
            assert upsert_rows(first, REALM, "customers", [row], None) == 1  # type: ignore[list-item]
            first.flush()
            racing = pool.submit(second)  # waits for the first's new row, then conflicts
            time.sleep(0.5)
            assert not racing.done()
        assert racing.result(timeout=30) == 1
    with store.session() as session:
        kept = session.get(QboCustomer, (REALM, "63"))
        assert kept is not None
        assert kept.display_name == "Both"
