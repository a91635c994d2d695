"""A link written while a job runs wakes it when it then parks waiting for that link: the wake
(``storage.push._wake``) only moves jobs already waiting, so without this the job slept until its
next look (30 s) and, with a short give-up, could fail "never arrived" for a record that had."""

from __future__ import annotations

from datetime import timedelta

from appliance.storage import push as jobs
from appliance.storage import queue
from appliance.storage.db import session_scope
from appliance.storage.models import Company
from appliance.storage.outcomes import LinkWrite
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from tests.unit.test_push_store import receive, state, take

REALM = "9130000000000001"


def _link(store: Store, jobroutr_id: str) -> None:
    with session_scope(store.engine) as session:
        if session.get(Company, REALM) is None:
            session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
    write = LinkWrite(kind="customer", jobroutr_id=jobroutr_id, qbo_id="58",
                      source_timestamp=None, source_event_id="")  # fmt: skip
    with session_scope(store.engine) as session:
        jobs._write_link(session, REALM, write)


def _park(store: Store, event_id: str, token: str) -> tuple[queue.Claim, jobs.Waiting]:
    """Claim the event's job, and the outcome its push gives: waiting 30 minutes for ``token``."""
    later = utcnow() + timedelta(minutes=30)
    waiting = jobs.Waiting("customer cus_w to reach QuickBooks", later, (token,), realm_id=REALM)
    return take(store, event_id), waiting


def test_a_link_written_while_the_job_ran_makes_it_look_again_at_once(store: Store) -> None:
    receive(store, "evt_race", record="inv_race")
    claim, waiting = _park(store, "evt_race", "customer:cus_w")
    _link(store, "cus_w")  # the customer's job finished while this one was running
    assert jobs.complete(store.engine, claim, waiting)
    _, job = state(store, "evt_race")
    assert job.state == "waiting"
    assert job.run_after <= utcnow()


def test_a_link_written_before_the_job_ran_does_not_wake_it_again(store: Store) -> None:
    _link(store, "cus_w")  # linked before: the job waits for something else (a queued change)
    receive(store, "evt_calm", record="pay_calm")
    claim, waiting = _park(store, "evt_calm", "customer:cus_w")
    assert jobs.complete(store.engine, claim, waiting)
    _, job = state(store, "evt_calm")
    assert job.run_after > utcnow() + timedelta(minutes=20)
