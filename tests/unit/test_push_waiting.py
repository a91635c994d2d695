"""An invoice waiting for its customer gives up after it has waited ``dependency_wait`` while the
service ran, timed by the monotonic clock: a wall clock that jumps forward (NTP's first sync, an
operator's ``date``) neither fails it early nor, when it comes back, leaves it failed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from appliance.storage import push as jobs
from appliance.storage import queue, review
from appliance.storage.events import accept
from appliance.storage.models import Company, Event
from appliance.storage.outcomes import LinkWrite
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push import PushConfig, Pusher
from tests.harness.processes import shared_dir

REALM = "9341453050071776"
WAIT = timedelta(days=1)
LEASE = timedelta(seconds=60)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(store: Store) -> Store:
    """The initialised store (unit/conftest.py) with the company the pushed records belong to."""
    with store.session() as session:
        session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
        session.commit()
    return store


@dataclass
class Clocks:
    """The wall clock and the monotonic clock the pusher reads, moved by the test."""

    wall: datetime = field(default_factory=utcnow)
    mono: float = 1000.0

    def tick(self, seconds: float, *, wall_jump: timedelta = timedelta(0)) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds) + wall_jump


class NoBooks:
    """The invoice never gets as far as QuickBooks: its customer and product are not linked."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"QuickBooks was called ({name}) for an invoice that must wait")


def queue_invoice(store: Store) -> str:
    path = shared_dir() / "jobroutr" / "examples" / "invoice.created.json"
    if not path.exists():
        pytest.skip(f"the JobRoutr examples are not at {path.parent}")
    accept(
        store.engine,
        event_id="evt_inv",
        event_type="invoice.created",
        payload=json.loads(path.read_text()),
        realm_id=REALM,
        occurred_at=None,
        known=True,
    )
    return "evt_inv"


def look_again(store: Store, pusher: Pusher) -> str:
    """Wake the waiting invoice (as its recheck would), run it once; its event's status."""
    jobs.wake_waiting(store.engine)
    assert asyncio.run(pusher.run_one("worker"))
    with store.session() as session:
        event = session.get(Event, "evt_inv")
        assert event is not None
        return event.status


def test_a_clock_jump_forward_does_not_fail_a_waiting_invoice(store: Store) -> None:
    clocks = Clocks()
    pusher = Pusher(
        store,
        NoBooks(),  # type: ignore[arg-type]
        PushConfig(dependency_wait=WAIT),
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
    )
    queue_invoice(store)
    assert look_again(store, pusher) == "waiting"

    clocks.tick(30, wall_jump=timedelta(days=3))  # the wall clock leaps three days ahead
    assert look_again(store, pusher) == "waiting"
    clocks.tick(30, wall_jump=-timedelta(days=3))  # and comes back
    assert look_again(store, pusher) == "waiting"
    clocks.tick(30, wall_jump=-timedelta(days=2))  # or goes back further: nothing is lost
    assert look_again(store, pusher) == "waiting"

    # A day really spent waiting, and it gives up, naming what never arrived.
    clocks.tick(WAIT.total_seconds())
    assert look_again(store, pusher) == "failed"
    with store.session() as session:
        event = session.get(Event, "evt_inv")
        assert event is not None
        assert event.error_code == "never-arrived"
        assert "customer cus_4f1c2a" in (event.error_message or "")


def test_the_time_waited_survives_a_restart_and_an_operator_retry_starts_it_again(
    store: Store,
) -> None:
    clocks = Clocks()

    def pusher() -> Pusher:  # a new one is a new process: its monotonic clock starts afresh
        return Pusher(
            store,
            NoBooks(),  # type: ignore[arg-type]
            PushConfig(dependency_wait=WAIT),
            clock=lambda: clocks.wall,
            monotonic=lambda: clocks.mono,
        )

    first = pusher()
    queue_invoice(store)
    assert look_again(store, first) == "waiting"
    clocks.tick(WAIT.total_seconds() * 0.75)
    assert look_again(store, first) == "waiting"  # three quarters of the wait, kept

    clocks.mono = 5.0  # a restart: the new process's monotonic clock has its own origin
    second = pusher()
    assert look_again(store, second) == "waiting"
    clocks.tick(WAIT.total_seconds() * 0.3)
    assert look_again(store, second) == "failed"  # 0.75 + 0.3 of the wait

    assert review.retry(store.engine, ["evt_inv"], actor="test") == ["evt_inv"]
    assert look_again(store, second) == "waiting"  # a fresh wait, not failed at once


def test_a_parked_invoice_is_not_taken_again_until_its_customer_is_written(store: Store) -> None:
    """Waiting for its customer, the invoice is not claimed at every short recheck (each a claim,
    a load and a park for nothing): it sleeps until the customer's link wakes it, at once."""
    pusher = Pusher(store, NoBooks(), PushConfig(dependency_wait=WAIT))  # type: ignore[arg-type]
    queue_invoice(store)
    assert asyncio.run(pusher.run_one("worker"))  # it looks, and waits for its customer
    customer = json.loads(
        (shared_dir() / "jobroutr" / "examples" / "invoice.created.json").read_text()
    )["data"]["customer_id"]

    for minutes in (1, 5):  # the old recheck came every 30 s
        assert queue.claim(store.engine, "other", LEASE, now=utcnow() + minutes * MINUTE) is None

    accept(
        store.engine, event_id="evt_cus", event_type="customer.created",
        payload={"type": "customer.created", "data": {"id": customer}}, realm_id=REALM,
        occurred_at=None, known=True,
    )  # fmt: skip
    taken = queue.claim(store.engine, "worker", LEASE)
    assert taken is not None
    assert taken.event_id == "evt_cus"
    link = LinkWrite("customer", customer, "58", None, "evt_cus")
    assert jobs.complete(store.engine, taken, jobs.Done(REALM, "58", link))

    woken = queue.claim(store.engine, "worker", LEASE)  # now, not at a recheck
    assert woken is not None
    assert woken.event_id == "evt_inv"
