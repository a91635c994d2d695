"""What the bookkeeper does in QuickBooks comes back: the service in-process (its own runtime and
change feed, polling every fraction of a second) on the emulator, whose API the bookkeeper's
changes go through as QuickBooks' own screens would write them. JobRoutr's records are set up as
the push and the imports leave them (tests/harness/bookkeeper.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import TestClient

from appliance.cli.rendering import print_status
from appliance.config import Settings
from appliance.core.admin import StatusReport
from appliance.core.changes import feed_lines
from appliance.core.kinds import INVOICE, PAYMENT
from appliance.emulator import api as emulator_api
from appliance.gateway.app import create_admin_app, create_app
from appliance.gateway.runtime import Runtime
from appliance.storage import changes, credentials
from appliance.storage.models import Event, Link
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.feed import ChangeFeed, PollReport
from tests.harness.bookkeeper import (
    Bookkeeper,
    link_figures,
    link_invoice,
    mirror_customer,
)
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import wait_until
from tests.harness.runtime import connect


def _connect(settings: Settings, realm: str) -> None:
    async def main() -> None:
        store = Store.open(settings)
        runtime = Runtime(settings, store)
        try:
            await connect(runtime, realm)
        finally:
            await runtime.aclose()
            store.close()

    asyncio.run(main())


@dataclass
class Office:
    """JobRoutr's side (the pull API), the appliance's store, and the bookkeeper's QuickBooks."""

    client: TestClient[Any]
    store: Store
    realm: str
    qbo: Bookkeeper

    def changes(self, **params: Any) -> dict[str, Any]:
        response = self.client.get("/api/v1/changes", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def all_changes(self) -> list[tuple[str, str | None, str]]:
        return [(c["kind"], c["jobroutr_id"], c["change"]) for c in self.changes()["items"]]

    def polls(self) -> int:
        state = changes.feed_state(self.store.engine, self.realm)
        return 0 if state is None or state.last_polled_at is None else 1

    def next_poll(self) -> None:
        """Wait until a poll has started and ended after now: all done before now was read."""
        before = changes.feed_state(self.store.engine, self.realm)
        mark = before.last_polled_at if before else None
        wait_until(
            lambda: (
                (s := changes.feed_state(self.store.engine, self.realm)) is not None
                and s.last_polled_at is not None
                and (mark is None or s.last_polled_at > mark)
            ),
            what="a poll of the change feed",
        )


@pytest.fixture
def office(app_settings: Settings, emulator: RunningEmulator) -> Iterator[Office]:
    _connect(app_settings, emulator.realm)
    settings = app_settings.model_copy(update={"feed_interval_seconds": 0.3})
    store = Store.open(settings)
    try:
        with store.session() as session:
            _, key = credentials.create_api_key(session, label="test")
            session.commit()
        with TestClient(create_app(settings, store)) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            yield Office(client, store, emulator.realm, Bookkeeper(emulator))
    finally:
        store.close()


def test_the_bookkeepers_void_delete_payment_and_customer_changes_come_back_within_a_poll(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    qbo, realm = office.qbo, office.realm
    # What JobRoutr wrote: three invoices, a customer; and a customer the import brought in.
    written = {name: qbo.invoice(f"CF-{name}") for name in ("a", "b", "c")}
    for name, record in written.items():
        link_invoice(office.store, realm, f"inv_{name}", record)
    linked = qbo.customer("Feed Linked Co")
    mirror_customer(office.store, realm, linked, jobroutr_id="cus_linked")
    imported = qbo.customer("Feed Imported Co")
    mirror_customer(office.store, realm, imported)
    office.next_poll()
    office.next_poll()
    assert office.all_changes() == []  # the appliance's own writes are no news

    qbo.void(written["a"]["Id"])
    qbo.delete(INVOICE.entity, written["c"]["Id"])
    payment = qbo.pay(written["b"]["Id"], "40.00")
    qbo.change_customer(linked["Id"], DisplayName="Feed Linked & Sons")
    qbo.change_customer(imported["Id"], Active=False)
    office.next_poll()
    office.next_poll()

    found = office.changes()["items"]
    assert sorted((c["kind"], c["jobroutr_id"] or "", c["qbo_id"], c["change"]) for c in found) == [
        ("customer", "", imported["Id"], "made_inactive"),
        ("customer", "cus_linked", linked["Id"], "renamed"),
        ("invoice", "inv_a", written["a"]["Id"], "voided"),
        ("invoice", "inv_b", written["b"]["Id"], "payment_received"),
        ("invoice", "inv_c", written["c"]["Id"], "deleted"),
    ]
    paid = next(c for c in found if c["change"] == "payment_received")
    assert paid["detail"]["payment_qbo_id"] == payment["Id"]
    assert paid["detail"]["amount"] == "40.00"
    renamed = next(c for c in found if c["change"] == "renamed")
    assert renamed["detail"] == {"before": "Feed Linked Co", "after": "Feed Linked & Sons"}
    assert all(c["at"] for c in found)
    # The links say what QuickBooks holds now, read by the feed (no live read involved).
    assert link_figures(office.store, realm, "inv_a")["state"] == "voided"
    assert link_figures(office.store, realm, "inv_c")["state"] == "deleted"
    figures_b = link_figures(office.store, realm, "inv_b")
    owed = Decimal(str(written["b"]["TotalAmt"])) - Decimal("40.00")  # with QuickBooks' tax
    assert (figures_b["state"], figures_b["balance"]) == ("open", f"{owed:.2f}")
    # The mirror is in step: the pull API's customers show the new name.
    customers = office.client.get("/api/v1/customers").json()["items"]
    names = {c["qbo_id"]: c["display_name"] for c in customers}
    assert names[linked["Id"]] == "Feed Linked & Sons"

    # Polled again: nothing found twice.
    office.next_poll()
    assert len(office.changes()["items"]) == 5

    # The operator hears of it: the admin API's status, as `appliance status` prints it.
    with TestClient(create_admin_app(office.store.settings, office.store)) as admin:
        admin.headers["X-Appliance-Operator"] = "dana@cli"
        answer = admin.get("/v1/status")
    assert answer.status_code == 200, answer.text
    report = msgspec.json.decode(answer.content, type=StatusReport)
    assert report.feed is not None
    assert report.feed.changed_last_day == {"customer": 2, "invoice": 3}
    print_status(report)
    printed = capsys.readouterr().out
    assert "Changes:          2 customers and 3 invoices changed in QuickBooks since yesterday" in (
        printed
    )
    assert "QuickBooks' changes last read" in printed


def test_changes_page_by_cursor_and_a_kept_cursor_returns_only_what_is_new(
    office: Office,
) -> None:
    qbo, realm = office.qbo, office.realm
    records = [qbo.invoice(f"CP-{n}") for n in range(5)]
    for n, record in enumerate(records):
        link_invoice(office.store, realm, f"inv_p{n}", record)
    for record in records[:4]:
        qbo.void(record["Id"])
    office.next_poll()
    office.next_poll()

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = office.changes(limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += [c["jobroutr_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not page["items"]:
            break
    assert sorted(seen) == ["inv_p0", "inv_p1", "inv_p2", "inv_p3"]
    assert office.changes(cursor=cursor)["items"] == []  # nothing new since
    assert office.changes(cursor=cursor)["next_cursor"] == cursor

    qbo.void(records[4]["Id"])
    office.next_poll()
    office.next_poll()
    later = office.changes(cursor=cursor)["items"]
    assert [(c["jobroutr_id"], c["change"]) for c in later] == [("inv_p4", "voided")]

    for bad in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 1001}):
        refused = office.client.get("/api/v1/changes", params=bad)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_the_appliances_own_update_and_void_are_not_changes_but_the_bookkeepers_edit_is(
    office: Office,
) -> None:
    qbo, realm = office.qbo, office.realm
    mine, theirs = qbo.invoice("OWN-1"), qbo.invoice("OWN-2")
    link_invoice(office.store, realm, "inv_own", mine)
    link_invoice(office.store, realm, "inv_theirs", theirs)
    office.next_poll()
    # The appliance updates its invoice (as invoice.updated does) and keeps the figures it read...
    qbo.reprice(mine["Id"], "150.00")
    link_invoice(office.store, realm, "inv_own", qbo.read(INVOICE.entity, mine["Id"]))
    # ...then voids it because JobRoutr said so (invoice.voided).
    with office.store.session() as session:
        session.add(
            Event(
                id="evt_own_void",
                type="invoice.voided",
                record_kind=INVOICE.name,
                record_id="inv_own",
                status="done",
            )
        )
        session.commit()
    qbo.void(mine["Id"])
    # The bookkeeper edits the other one.
    qbo.reprice(theirs["Id"], "120.00")
    office.next_poll()
    office.next_poll()

    found = office.changes()["items"]
    assert [(c["jobroutr_id"], c["change"]) for c in found] == [("inv_theirs", "changed")]
    now_total = f"{Decimal(str(qbo.read(INVOICE.entity, theirs['Id'])['TotalAmt'])):.2f}"
    assert found[0]["detail"]["before"]["total"] == f"{Decimal(str(theirs['TotalAmt'])):.2f}"
    assert found[0]["detail"]["after"]["total"] == now_total
    assert link_figures(office.store, realm, "inv_theirs")["total"] == now_total
    assert link_figures(office.store, realm, "inv_own")["state"] == "voided"


def _poll(settings: Settings, *, cap: int = 1000) -> tuple[PollReport, list[tuple[str, str]]]:
    """One poll by a feed of the test's own (``cap``: CDC's most objects an answer)."""

    async def main() -> tuple[PollReport, list[tuple[str, str]]]:
        store = Store.open(settings)
        runtime = Runtime(settings, store)
        feed = ChangeFeed(store, runtime.qbo, interval=0, cap=cap, reread_batch=2)
        try:
            info = store.connection_info()
            assert info is not None
            report = await feed.poll(info.realm_id)
            rows = changes.page(store.engine, info.realm_id, after=0, limit=1000)
            return report, sorted((r.jobroutr_id or "", r.change) for r in rows)
        finally:
            await runtime.aclose()
            store.close()

    return asyncio.run(main())


@pytest.fixture
def quiet(app_settings: Settings, emulator: RunningEmulator) -> Iterator[tuple[Store, str]]:
    """Connected, no service running: the test polls by hand."""
    _connect(app_settings, emulator.realm)
    store = Store.open(app_settings)
    try:
        yield store, emulator.realm
    finally:
        store.close()


def test_a_full_answer_shortens_the_window_and_what_it_left_out_is_reread(
    app_settings: Settings,
    emulator: RunningEmulator,
    quiet: tuple[Store, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # CDC answers at most 3 objects here (QuickBooks: 1,000), and the feed knows it.
    monkeypatch.setattr(emulator_api, "CDC_MAX_OBJECTS", 3)
    store, realm = quiet
    qbo = Bookkeeper(emulator)
    clock = emulator.service.clock
    records = [qbo.invoice(f"CAP-{n}") for n in range(4)]
    for n, record in enumerate(records):
        link_invoice(store, realm, f"inv_cap{n}", record)
    started = utcnow()
    try:
        clock.advance(-7200)  # two voids two hours ago, in QuickBooks' time
        qbo.void(records[0]["Id"])
        qbo.void(records[1]["Id"])
    finally:
        clock.advance(7200)
    qbo.void(records[2]["Id"])
    qbo.void(records[3]["Id"])
    changes.set_read_until(store.engine, realm, started - timedelta(hours=3))

    report, found = _poll(app_settings, cap=3)  # 4 changed invoices: a full answer, one left out
    assert found == [(f"inv_cap{n}", "voided") for n in range(4)]
    assert report.split
    assert report.reread
    assert not report.gap


def test_after_more_than_30_days_off_the_linked_records_are_reread_and_the_status_says_so(
    app_settings: Settings, emulator: RunningEmulator, quiet: tuple[Store, str]
) -> None:
    store, realm = quiet
    qbo = Bookkeeper(emulator)
    clock = emulator.service.clock
    weeks = timedelta(days=35).total_seconds()
    try:
        clock.advance(-weeks)  # five weeks ago: written by JobRoutr, then changed by the bookkeeper
        gone, paid, kept = (qbo.invoice(f"GAP-{n}") for n in range(3))
        for name, record in (("gone", gone), ("paid", paid), ("kept", kept)):
            link_invoice(store, realm, f"inv_{name}", record)
        qbo.delete(INVOICE.entity, gone["Id"])
        qbo.pay(paid["Id"], paid["TotalAmt"])
    finally:
        clock.advance(weeks)
    # The appliance was off since (CDC keeps 30 days: it has none of this any more).
    changes.set_read_until(store.engine, realm, utcnow() - timedelta(days=36))

    report, found = _poll(app_settings)
    assert found == [("inv_gone", "deleted"), ("inv_paid", "payment_received")]
    assert report.gap
    assert report.reread
    assert not report.split
    assert link_figures(store, realm, "inv_paid")["state"] == "paid"
    assert link_figures(store, realm, "inv_paid")["balance"] == "0.00"
    info = changes.feed_info(store.engine, realm, utcnow())
    assert info.gap_at is not None
    assert info.last_error is None
    assert info.read_until is not None
    assert utcnow() - info.read_until < timedelta(hours=1)
    lines = feed_lines(info, utcnow())
    assert lines[0].startswith("2 invoices changed in QuickBooks since yesterday")
    assert any("longer than QuickBooks keeps changes (30 days)" in line for line in lines)

    # The next poll is an ordinary one again, and finds nothing twice.
    report, again = _poll(app_settings)
    assert not report.gap
    assert again == found


def test_a_payment_jobroutr_sent_undone_in_quickbooks_is_a_payment_change(
    app_settings: Settings, emulator: RunningEmulator, quiet: tuple[Store, str]
) -> None:
    store, realm = quiet
    qbo = Bookkeeper(emulator)
    invoice = qbo.invoice("PAY-1")
    link_invoice(store, realm, "inv_pay", invoice)
    sent = qbo.pay(invoice["Id"], "30.00")  # as the payment push writes it, and links it
    with store.session() as session:
        session.add(Link(realm_id=realm, kind=PAYMENT.name, jobroutr_id="pay_1", qbo_id=sent["Id"]))
        session.commit()
    _, found = _poll(app_settings)
    assert found == []  # JobRoutr's own payment is no news
    qbo.delete(PAYMENT.entity, sent["Id"])
    _report, found = _poll(app_settings)
    assert found == [("pay_1", "deleted")]


def test_with_no_interval_the_feed_reads_quickbooks_after_every_import(
    app_settings: Settings, emulator: RunningEmulator, quiet: tuple[Store, str]
) -> None:
    store, realm = quiet
    qbo = Bookkeeper(emulator)
    record = qbo.invoice("IMP-1")
    link_invoice(store, realm, "inv_imp", record)
    qbo.void(record["Id"])
    settings = app_settings.model_copy(update={"feed_interval_seconds": 0})

    async def main() -> None:
        own = Store.open(settings)
        runtime = Runtime(settings, own)
        try:
            await runtime.start()
            await asyncio.sleep(0.5)
            assert changes.feed_state(own.engine, realm) is None  # no poll on its own
            runtime.importer.start("accounts")
            for _ in range(200):
                if changes.page(own.engine, realm, after=0, limit=10):
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the import did not make the feed read QuickBooks")
        finally:
            await runtime.aclose()
            own.close()

    asyncio.run(main())
    rows = changes.page(store.engine, realm, after=0, limit=10)
    assert [(r.jobroutr_id, r.change) for r in rows] == [("inv_imp", "voided")]


def test_a_failed_poll_keeps_its_mark_says_why_and_the_next_one_catches_up(
    app_settings: Settings, emulator: RunningEmulator, quiet: tuple[Store, str]
) -> None:
    store, realm = quiet
    qbo = Bookkeeper(emulator)
    record = qbo.invoice("ERR-1")
    link_invoice(store, realm, "inv_err", record)
    _poll(app_settings)
    mark = changes.feed_info(store.engine, realm, utcnow()).read_until
    qbo.void(record["Id"])
    quick = app_settings.model_copy(update={"qbo_retry_initial_seconds": 0.01})
    rule = {"kind": "500", "count": None, "path_contains": "/cdc"}
    httpx.post(emulator.url + "/_emulator/faults", json=rule).raise_for_status()

    _, found = _poll(quick)
    assert found == []
    info = changes.feed_info(store.engine, realm, utcnow())
    assert info.read_until == mark  # nothing read: the next poll starts from the same place
    assert info.last_error
    assert any(line.startswith("The last read of QuickBooks' changes failed") for line in
               feed_lines(info, utcnow()))  # fmt: skip

    httpx.delete(emulator.url + "/_emulator/faults").raise_for_status()
    _, found = _poll(quick)
    assert found == [("inv_err", "voided")]
    assert changes.feed_info(store.engine, realm, utcnow()).last_error is None
