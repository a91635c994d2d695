"""The job queue's promises: one job per record at a time and in order, a dead worker's job taken
over after its lease, and a worker that lost its lease unable to touch the job (fencing)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from appliance.storage import queue
from appliance.storage.db import session_scope
from appliance.storage.models import Job
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from tests.harness.store import remember_request_id

pytestmark = pytest.mark.stores

LEASE = timedelta(seconds=30)


def add(store: Store, record: str, kind: str = "customer.updated") -> int:
    with session_scope(store.engine) as session:
        job = Job(kind=kind, record_key=record)
        session.add(job)
        session.flush()
        assert job.id is not None
        return job.id


def test_jobs_of_one_record_run_one_at_a_time_in_order(store: Store) -> None:
    first = add(store, "customer:a")
    second = add(store, "customer:a")
    other = add(store, "customer:b")

    one = queue.claim(store.engine, "w1", LEASE)
    two = queue.claim(store.engine, "w2", LEASE)
    assert one is not None
    assert two is not None
    assert (one.job_id, two.job_id) == (first, other)  # customer:a's second waits for its first
    assert queue.claim(store.engine, "w3", LEASE) is None

    assert queue.finish(store.engine, one.job_id, one.fence, state="done")
    three = queue.claim(store.engine, "w3", LEASE)
    assert three is not None
    assert three.job_id == second


def test_a_failed_job_does_not_block_the_records_later_jobs(store: Store) -> None:
    add(store, "customer:p")
    later = add(store, "customer:p")
    poison = queue.claim(store.engine, "w", LEASE)
    assert poison is not None
    queue.finish(store.engine, poison.job_id, poison.fence, state="failed", error="6000")
    nxt = queue.claim(store.engine, "w", LEASE)
    assert nxt is not None
    assert nxt.job_id == later


def test_a_dead_workers_job_is_taken_over_after_its_lease_and_the_old_worker_is_fenced_out(
    store: Store,
) -> None:
    add(store, "invoice:1")
    dead = queue.claim(store.engine, "dead", LEASE)
    assert dead is not None
    assert queue.claim(store.engine, "live", LEASE) is None  # a live lease is respected

    later = utcnow() + LEASE + timedelta(seconds=1)
    taken = queue.claim(store.engine, "live", LEASE, now=later)
    assert taken is not None
    assert taken.job_id == dead.job_id
    assert taken.fence == dead.fence + 1
    assert taken.attempts == 2

    assert not queue.heartbeat(store.engine, dead.job_id, dead.fence, LEASE)
    assert not queue.finish(store.engine, dead.job_id, dead.fence, state="done")
    assert queue.heartbeat(store.engine, taken.job_id, taken.fence, LEASE)
    assert queue.finish(store.engine, taken.job_id, taken.fence, state="done")


def test_a_heartbeat_keeps_a_slow_job_from_being_taken(store: Store) -> None:
    add(store, "product:1")
    slow = queue.claim(store.engine, "slow", timedelta(seconds=1))
    assert slow is not None
    assert queue.heartbeat(store.engine, slow.job_id, slow.fence, timedelta(seconds=60))
    assert queue.claim(store.engine, "other", LEASE, now=utcnow() + timedelta(seconds=5)) is None


def test_parked_jobs_wait_until_they_are_due(store: Store) -> None:
    add(store, "invoice:w")
    job = queue.claim(store.engine, "w", LEASE)
    assert job is not None
    due = utcnow() + timedelta(minutes=1)
    assert queue.finish(
        store.engine, job.job_id, job.fence, state="waiting", waiting_for="customer c1",
        run_after=due,
    )  # fmt: skip
    assert queue.claim(store.engine, "w", LEASE) is None
    again = queue.claim(store.engine, "w", LEASE, now=due + timedelta(seconds=1))
    assert again is not None
    assert again.job_id == job.job_id


def test_the_requestid_is_kept_with_the_job_for_every_retry(store: Store) -> None:
    add(store, "customer:r")
    job = queue.claim(store.engine, "w", LEASE)
    assert job is not None
    assert remember_request_id(store.engine, job.job_id, job.fence, "evt_1:create")
    queue.finish(store.engine, job.job_id, job.fence, state="queued", run_after=utcnow())
    retry = queue.claim(store.engine, "w", LEASE)
    assert retry is not None
    assert retry.request_id == "evt_1:create"


def test_racing_workers_never_claim_the_same_job(store: Store) -> None:
    for n in range(40):
        add(store, f"customer:{n}")
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := queue.claim(store.engine, name, LEASE)) is not None:
            with lock:
                claimed.append(job.job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 40
    assert len(set(claimed)) == 40
