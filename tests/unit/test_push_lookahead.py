"""A backlog of new customers and products costs about one QuickBooks call a record, not two: a
name lookup asks for the next queued records' names too, and those QuickBooks has no record of
go straight to their create. A name created in QuickBooks after that lookup is still linked, not
duplicated: its create is refused (6240) and a real lookup finds it.

The pusher runs its jobs one by one (``run_one``) against ``Books``, a stand-in for QuickBooks'
name lists that answers the queries the pusher sends and refuses a taken name as QBO does."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import select

from appliance.qbo.errors import ValidationError
from appliance.storage import push as jobs
from appliance.storage.events import accept
from appliance.storage.models import Company, Event
from appliance.storage.models import Job as JobRow
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push import LOOKAHEAD, Pusher

REALM = "9341453050071776"
KEY = {
    "Customer": "DisplayName",
    "Item": "Name",
    "Vendor": "DisplayName",
    "Employee": "DisplayName",
}
#: The email JobRoutr's customers have and QuickBooks' same-named ones too: the same customer.
EMAIL = "office@example.com"


@pytest.fixture
def store(store: Store) -> Store:
    """The initialised store (unit/conftest.py) with the company the pushed records belong to."""
    with store.session() as session:
        session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
        session.commit()
    return store


class Books:
    """QuickBooks' customers and items as the pusher sees them: queries by name (IN lists, active
    and inactive), creates refused with 6240 when the name is taken, sparse updates."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {
            "Customer": {},
            "Item": {},
            "Vendor": {},
            "Employee": {},
        }
        self.queries: list[list[str]] = []  # the names each query asked about
        self.creates: list[str] = []
        self.refused: list[str] = []

    def add(self, entity: str, name: str, **fields: Any) -> dict[str, Any]:
        qbo_id = str(sum(len(r) for r in self.records.values()) + 1)
        record = {"Id": qbo_id, "SyncToken": "0", "Active": True, KEY[entity]: name, **fields}
        if entity == "Item":
            record.update(Type="Service", UnitPrice=10)
        self.records[entity][qbo_id] = record
        return record

    def named(self, entity: str, name: str) -> list[dict[str, Any]]:
        key = KEY[entity]
        return [r for r in self.records[entity].values() if r[key].casefold() == name.casefold()]

    async def query(self, realm_id: str, statement: str) -> dict[str, Any]:
        found = re.search(r"FROM (\w+) WHERE \w+ IN \((.*?)\) AND", statement)
        assert found is not None, statement
        entity = found.group(1)
        names = [n.replace("\\'", "'") for n in re.findall(r"'((?:\\'|[^'])*)'", found.group(2))]
        self.queries.append([n for n in names if not n.endswith(" (deleted)")])
        rows = [r for n in names for r in self.named(entity, n)]
        return {entity: rows} if rows else {}

    async def write(
        self,
        realm_id: str,
        entity: str,
        record: dict[str, Any],
        *,
        requestid: str | None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        if "Id" in record:  # a sparse update
            current = self.records[entity][record["Id"]]
            changes = {k: v for k, v in record.items() if k not in ("sparse", "SyncToken")}
            current.update(changes, SyncToken=str(int(current["SyncToken"]) + 1))
            return dict(current)
        name = record[KEY[entity]]
        if self.named(entity, name):
            self.refused.append(name)
            raise ValidationError("Duplicate Name Exists Error", status=400, qbo_code="6240")
        self.creates.append(name)
        made = self.add(entity, name)
        made.update({k: v for k, v in record.items() if k != KEY[entity]})
        return dict(made)

    async def read(self, realm_id: str, entity: str, qbo_id: str) -> dict[str, Any]:
        return dict(self.records[entity][qbo_id])


def queue_customer(store: Store, n: int, name: str, **more: str) -> str:
    event_id = f"evt_c{n}"
    accept(
        store.engine,
        event_id=event_id,
        event_type="customer.created",
        payload={
            "type": "customer.created",
            "data": {"id": f"cus_{n}", "company_name": name, "email": EMAIL, **more},
        },
        realm_id=REALM,
        occurred_at=None,
        known=True,
    )
    return event_id


def queue_product(store: Store, n: int, name: str) -> str:
    event_id = f"evt_p{n}"
    data = {
        "id": f"prd_{n}",
        "name": name,
        "type": "service",
        "price": "10.00",
        "income_account_id": "79",
        "expense_account_id": "80",
    }
    accept(
        store.engine,
        event_id=event_id,
        event_type="product.created",
        payload={"type": "product.created", "data": data},
        realm_id=REALM,
        occurred_at=None,
        known=True,
    )
    return event_id


def run_all(store: Store, books: Books, between: Any = None) -> int:
    """Run the queued jobs one at a time; ``between(ran)`` after each. Returns how many ran."""

    async def drain() -> int:
        pusher = Pusher(store, books)  # type: ignore[arg-type]
        ran = 0
        while await pusher.run_one("worker"):
            ran += 1
            if between is not None:
                between(ran)
        return ran

    return asyncio.run(drain())


def outcomes(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.session() as session:
        return {e.id: (e.status, e.qbo_id) for e in session.exec(select(Event)).all()}


def test_a_backlog_of_new_customers_is_looked_up_a_score_at_a_time(store: Store) -> None:
    count = 3 * LOOKAHEAD
    for n in range(count):
        queue_customer(store, n, f"Backlog Customer {n:02d}")
    books = Books()
    assert run_all(store, books) == count
    assert len(books.creates) == count
    assert not books.refused
    # One query per LOOKAHEAD names, each asking for the next records' names along with its own.
    assert len(books.queries) == 3
    assert books.queries[0] == [f"Backlog Customer {n:02d}" for n in range(LOOKAHEAD)]
    assert {status for status, _ in outcomes(store).values()} == {"done"}


def test_the_lookup_ahead_skips_records_that_name_their_quickbooks_record(store: Store) -> None:
    books = Books()
    queue_customer(store, 0, "First One")
    queue_customer(store, 1, "Pulled One", qbo_id="58")  # linked by its id, never by its name
    queue_customer(store, 2, "Third One")

    async def first() -> None:
        assert await Pusher(store, books).run_one("worker")  # type: ignore[arg-type]

    asyncio.run(first())
    assert books.queries == [["First One", "Third One"]]


def test_a_name_found_by_the_shared_lookup_is_linked_by_its_own_job(store: Store) -> None:
    books = Books()
    # The same email as JobRoutr's: the same customer (a bare name would be asked about).
    there = books.add("Customer", "Already There", PrimaryEmailAddr={"Address": EMAIL})
    queue_customer(store, 0, "First One")
    last = queue_customer(store, 1, "already there")  # found by the first job's lookup
    run_all(store, books)
    assert books.creates == ["First One"]
    assert outcomes(store)[last] == ("done", there["Id"])
    # Its job asked again: a record QuickBooks had is never taken on trust from another lookup.
    assert len(books.queries) == 2


def test_a_customer_named_in_quickbooks_after_the_shared_lookup_is_linked_not_duplicated(
    store: Store,
) -> None:
    books = Books()
    queue_customer(store, 0, "Early Bird")
    late = queue_customer(store, 1, "Late Comer")
    made: list[dict[str, Any]] = []

    def user_adds_it(ran: int) -> None:  # a QuickBooks user, between the lookup and the create
        if ran == 1:
            made.append(books.add("Customer", "Late Comer", PrimaryEmailAddr={"Address": EMAIL}))

    run_all(store, books, between=user_adds_it)
    assert books.refused == ["Late Comer"]  # its create, refused: the name is taken now
    assert outcomes(store)[late] == ("done", made[0]["Id"])
    assert len(books.named("Customer", "Late Comer")) == 1


def test_a_product_named_in_quickbooks_after_the_shared_lookup_is_linked_not_duplicated(
    store: Store,
) -> None:
    books = Books()
    queue_product(store, 0, "Gutter Clean")
    late = queue_product(store, 1, "Roof Check")
    made: list[dict[str, Any]] = []

    def user_adds_it(ran: int) -> None:
        if ran == 1:
            made.append(books.add("Item", "Roof Check"))

    run_all(store, books, between=user_adds_it)
    assert books.creates == ["Gutter Clean"]
    assert books.refused == ["Roof Check"]
    assert outcomes(store)[late] == ("done", made[0]["Id"])
    assert len(books.named("Item", "Roof Check")) == 1
    link = jobs.link_of(store.engine, REALM, "product", "prd_1")
    assert link is not None
    assert link.qbo_id == made[0]["Id"]


def test_what_a_lookup_learned_expires(store: Store) -> None:
    books = Books()
    queue_customer(store, 0, "Now")
    queue_customer(store, 1, "Later")

    async def drain() -> None:
        pusher = Pusher(store, books)  # type: ignore[arg-type]
        pusher.absent.ttl = 0.0  # "absent" is taken as true for no time at all
        while await pusher.run_one("worker"):
            pass

    asyncio.run(drain())
    assert [q[0] for q in books.queries] == ["Now", "Later"]  # each asked again


def test_workers_running_at_once_share_their_lookups(store: Store) -> None:
    """Ten workers take new customers at once: a job whose name is in a lookup still in flight
    waits for that answer instead of asking QuickBooks again."""
    count = 3 * LOOKAHEAD
    for n in range(count):
        queue_customer(store, n, f"Busy Customer {n:02d}")

    class SlowBooks(Books):
        async def query(self, realm_id: str, statement: str) -> dict[str, Any]:
            await asyncio.sleep(0.05)  # QuickBooks takes a while: the other workers go on
            return await super().query(realm_id, statement)

    books = SlowBooks()

    async def drain() -> None:
        pusher = Pusher(store, books)  # type: ignore[arg-type]

        async def worker(n: int) -> None:
            while await pusher.run_one(f"worker-{n}"):
                pass

        await asyncio.gather(*(worker(n) for n in range(10)))

    asyncio.run(drain())
    assert sorted(books.creates) == [f"Busy Customer {n:02d}" for n in range(count)]
    assert not books.refused
    asked = [name for query in books.queries for name in query]
    assert len(asked) == len(set(asked)) == count  # every name asked about once
    assert len(books.queries) <= count // LOOKAHEAD + 1


def test_a_failed_lookup_ahead_does_not_fail_the_job_that_asked(store: Store) -> None:
    """The job that asks about the names ahead needs none of the answer for its own create: if
    QuickBooks fails that lookup, the job still writes its record; the others ask for themselves."""
    count = 2 * LOOKAHEAD
    for n in range(count):
        queue_customer(store, n, f"Ahead Customer {n:02d}")

    class FlakyBooks(Books):
        async def query(self, realm_id: str, statement: str) -> dict[str, Any]:
            if len(self.queries) == 1:  # the second lookup: the first job ahead asking
                self.queries.append([])
                raise ConnectionError("QuickBooks dropped the connection")
            return await super().query(realm_id, statement)

    books = FlakyBooks()
    assert run_all(store, books) == count  # each job ran once: none was retried
    assert sorted(books.creates) == [f"Ahead Customer {n:02d}" for n in range(count)]
    assert {status for status, _ in outcomes(store).values()} == {"done"}


def test_a_start_of_the_service_wakes_the_events_waiting_for_a_connection(store: Store) -> None:
    """A connect wakes what waits for one; a service stopped in between would leave those events
    parked until their recheck (15 minutes before any company was connected). A start wakes them."""
    event_id = queue_customer(store, 0, "Waited Long")
    with store.session() as session:
        session.exec(
            update(JobRow).values(
                state="waiting", waits_on=" connection ", run_after=utcnow() + timedelta(hours=1)
            )
        )
        session.commit()
    books = Books()

    async def start_and_stop() -> None:
        pusher = Pusher(store, books)  # type: ignore[arg-type]
        pusher.start()
        for _ in range(200):
            if outcomes(store)[event_id][0] == "done":
                break
            await asyncio.sleep(0.02)
        await pusher.aclose()

    asyncio.run(start_and_stop())
    assert outcomes(store)[event_id][0] == "done"
    assert books.creates == ["Waited Long"]


class TakenMeanwhile(Books):
    """A QuickBooks user names an item ``taken`` just before the pusher's create of that name."""

    def __init__(self, taken: str) -> None:
        super().__init__()
        self.taken = taken
        self.requestids: list[str | None] = []

    async def write(
        self,
        realm_id: str,
        entity: str,
        record: dict[str, Any],
        *,
        requestid: str | None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        if "Id" not in record:
            self.requestids.append(requestid)
            if record.get("Name") == self.taken and not self.named(entity, self.taken):
                self.add(entity, self.taken)
        return await super().write(realm_id, entity, record, requestid=requestid)


def test_a_numbered_name_taken_meanwhile_is_created_under_the_next_number(store: Store) -> None:
    books = TakenMeanwhile("Hedge (2)")
    first = queue_product(store, 0, "Hedge")
    second = queue_product(store, 1, "Hedge")
    run_all(store, books)
    assert books.creates == ["Hedge", "Hedge (3)"]
    assert books.refused == ["Hedge (2)"]
    mine = [r for r in books.records["Item"].values() if r["Name"] == "Hedge (3)"]
    assert outcomes(store)[second] == ("done", mine[0]["Id"])
    assert outcomes(store)[first][0] == "done"
    # The create, then each numbered create with a step code of its own: never one requestid
    # for two different writes (QuickBooks would answer the second with the first's refusal).
    assert [rid.rsplit("-", 1)[1] for rid in books.requestids if rid] == ["new", "inn1", "inn2"]
