"""The tax step as an operator does it, through the CLI and the admin API of a running appliance:
JobRoutr's rates are listed with the suggested code, mapped (a code of another percent only when
forced, audited), and mapping wakes exactly the invoices waiting on that rate; the code for
untaxed lines and the discount account are checked and wake what waits on ``settings:invoices``.

Rates are seeded as the push learns them (``storage.taxes.learn``), tax codes as imported rows and
the company's books with ``save_books``: each part is built by its own code, apart from this."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from appliance.core.books import Books, TaxModel
from appliance.core.states import JobState
from appliance.emulator.app import EmulatorConfig
from appliance.storage import taxes
from appliance.storage.books import save_books
from appliance.storage.models import AuditEntry, Job
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from tests.harness.cli import invoke
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.taxes import british, seed_taxes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(company="uk")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path_factory.mktemp("taxes")) as running:
        yield running


@pytest.fixture
def store(gateway: Gateway, books: RunningEmulator) -> Iterator[Store]:
    """The running appliance's store, with a British company's books, the codes and the rates."""
    seed_taxes(gateway.settings, british(books.realm))
    opened = Store.open(gateway.settings)
    yield opened
    opened.close()


def cli(gateway: Gateway, *args: str) -> tuple[int, str, str]:
    result = invoke(*args, env=gateway.env)
    return result.exit_code, result.stdout, result.stderr


def listed(gateway: Gateway) -> dict:  # type: ignore[type-arg]
    code, out, err = cli(gateway, "taxes", "list", "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def admin(gateway: Gateway) -> httpx.Client:
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=str(gateway.settings.admin_socket_path)),
        base_url="http://appliance",
        timeout=30,
    )


def rate(info: dict, rate_id: str) -> dict:  # type: ignore[type-arg]
    return next(r for r in info["rates"] if r["jobroutr_rate_id"] == rate_id)


def test_rates_show_the_code_of_their_percent_and_suggestions_are_accepted(
    gateway: Gateway, store: Store
) -> None:
    info = listed(gateway)
    assert info["tax_model"] == "per_line"
    assert rate(info, "r-std")["suggested"]["qbo_id"] == "901"  # not the inactive 902
    assert rate(info, "r-red")["suggested"]["qbo_id"] == "903"  # 8.250 = 8.25
    assert rate(info, "r-odd")["suggested"] is None
    assert any("not mapped yet" in s for s in info["missing"])

    code, out, _ = cli(gateway, "taxes")
    assert code == 0
    assert "suggested: 17.5% S (id 901" in out
    assert "no code of this percent" in out

    code, out, err = cli(gateway, "taxes", "suggested")
    assert code == 0, err
    after = listed(gateway)
    assert rate(after, "r-std")["mapped"]["qbo_id"] == "901"
    assert rate(after, "r-red")["mapped"]["qbo_id"] == "903"
    assert rate(after, "r-odd")["mapped"] is None  # nothing to accept: left for the operator
    assert rate(after, "r-std")["mapped_by"]

    code, _, err = cli(gateway, "taxes", "suggested", "r-odd")
    assert code == 1
    assert "No code is suggested for Odd 3.3%" in err
    code, out, _ = cli(gateway, "taxes", "unmap", "r-red")
    assert code == 0
    assert rate(listed(gateway), "r-red")["mapped"] is None


def test_a_code_of_another_percent_is_refused_unless_forced_and_forcing_is_audited(
    gateway: Gateway, store: Store
) -> None:
    code, _, err = cli(gateway, "taxes", "map", "r-odd", "901")
    assert code == 1
    assert "charges 17.5 %, but JobRoutr's rate 'Odd 3.3%' is 3.3 %" in err
    assert "--force" in err
    assert rate(listed(gateway), "r-odd")["mapped"] is None

    code, _, err = cli(gateway, "taxes", "map", "r-std", "902")
    assert code == 1
    assert "inactive" in err
    code, _, err = cli(gateway, "taxes", "map", "r-std", "999")
    assert code == 1
    assert "no tax code 999" in err

    code, _, err = cli(gateway, "taxes", "map", "r-odd", "901", "--force")
    assert code == 0, err
    assert rate(listed(gateway), "r-odd")["mapped"]["qbo_id"] == "901"
    with store.session() as session:
        entry = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.action) == "tax.mapped")
            .order_by(col(AuditEntry.id).desc())
        ).first()
    assert entry is not None
    assert entry.detail["jobroutr_rate_id"] == "r-odd"
    assert entry.detail["forced"] is True


def test_the_admin_api_answers_problems_for_unknown_rates_and_bad_bodies(
    gateway: Gateway, store: Store
) -> None:
    with admin(gateway) as client:
        unknown = client.put("/v1/taxes/rates/nope", json={"qbo_tax_code_id": "901"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert "not known yet" in unknown.json()["detail"]
        bad = client.put("/v1/taxes/rates/r-std", json={"code": "901"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        wrong = client.put("/v1/taxes/rates/r-red", json={"qbo_tax_code_id": "901"})
        assert wrong.status_code == 409
        assert wrong.json()["hint"].startswith("Pick a code of 8.25 %")
        slash = client.put("/v1/taxes/rates/a%2Fb", json={"qbo_tax_code_id": "901"})
        assert slash.status_code == 404  # an id with a slash is one id, not a path


def waiting_job(store: Store, token: str) -> int:
    """A job waiting on ``token`` until tomorrow, as the push leaves an invoice that needs it."""
    with store.session() as session:
        job = Job(
            kind="invoice",
            record_key=f"invoice:test-{token}",
            state=JobState.WAITING,
            run_after=utcnow() + timedelta(days=1),
            waiting_for=f"waiting for {token}",
            waits_on=f" {token} ",
        )
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id


def asleep(store: Store, job_id: int) -> bool:
    with store.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state == JobState.WAITING and job.run_after > utcnow()


def test_mapping_a_rate_wakes_only_the_invoices_waiting_on_it(
    gateway: Gateway, store: Store
) -> None:
    mine = waiting_job(store, taxes.waits_on("r-red"))
    other = waiting_job(store, taxes.waits_on("r-std"))
    settings = waiting_job(store, taxes.INVOICE_SETTINGS)
    code, _, err = cli(gateway, "taxes", "map", "r-red", "903")
    assert code == 0, err
    assert not asleep(store, mine)
    assert asleep(store, other)
    assert asleep(store, settings)

    code, _, err = cli(gateway, "taxes", "untaxed-code", "904")
    assert code == 0, err
    assert not asleep(store, settings)
    assert asleep(store, other)


def test_the_untaxed_code_and_the_discount_account_are_checked(
    gateway: Gateway, store: Store
) -> None:
    code, _, err = cli(gateway, "taxes", "untaxed-code", "903")
    assert code == 1
    assert "charges 8.25 %; lines JobRoutr did not tax need a code that charges nothing" in err

    code, out, err = cli(gateway, "accounts", "--kind", "discount", "--json")
    assert code == 0, err
    accounts = json.loads(out)
    assert accounts[0]["account_sub_type"] == "DiscountsRefundsGiven"
    assert {a["account_type"] for a in accounts} <= {"Income", "Other Income"}
    code, out, err = cli(gateway, "accounts", "--kind", "expense", "--json")
    expense = json.loads(out)[0]["qbo_id"]
    code, _, err = cli(gateway, "taxes", "discount-account", expense)
    assert code == 1
    assert "discounts are booked to an Income or Other Income account" in err

    code, out, err = cli(gateway, "taxes", "discount-account", accounts[0]["qbo_id"])
    assert code == 0, err
    info = listed(gateway)
    assert info["discount_account"]["qbo_id"] == accounts[0]["qbo_id"]
    assert not any("discount" in s for s in info["missing"])


def test_onboarding_gains_the_tax_step_where_the_company_needs_it(
    gateway: Gateway, store: Store, books: RunningEmulator
) -> None:
    def tasks() -> dict[str, bool]:
        code, out, err = cli(gateway, "onboarding", "--json")
        assert code == 0, err
        return {t["task"]: t["done"] for t in json.loads(out)["tasks"]}

    for rate_id in ("r-std", "r-red", "r-odd"):
        cli(gateway, "taxes", "unmap", rate_id)
    assert tasks()["taxes"] is False
    cli(gateway, "taxes", "suggested")
    cli(gateway, "taxes", "map", "r-odd", "901", "--force")
    cli(gateway, "taxes", "untaxed-code", "904")
    assert tasks()["taxes"] is True
    assert "discount_account" in tasks()

    us = Books(books.realm, "US", TaxModel.AST, "USD", False, False, True)
    save_books(store.engine, us)
    assert "taxes" not in tasks()  # automated sales tax: QuickBooks figures it
    assert "discount_account" not in tasks()  # discounts are off in this company
    code, _, err = cli(gateway, "taxes", "map", "r-std", "901")
    assert code == 1
    assert "does not need its tax rates mapped" in err
