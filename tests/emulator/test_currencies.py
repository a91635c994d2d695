"""Currencies in the emulator (../shared/qbo/FACTS.md §11 "Currencies"): multi-currency off by
default and never turned off once on, a customer's (vendor's, account's) currency fixed at
creation, invoices in the customer's currency with ExchangeRate and HomeTotalAmt.

The figures are worked out by hand here (home = foreign amount x ExchangeRate, rounded half up to
the cent), not read from the emulator's own code. The codes of the refusals are the emulator's
choices (FACTS marks the real ones unverified): 6000 for a currency the company or the customer
does not allow, 2500 for a code that is no currency.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import httpx
import msgspec
import pytest

from appliance.cli import emulator as emulator_command
from appliance.emulator.app import EmulatorConfig
from tests.harness.emulator import RunningEmulator

NUMBERS = msgspec.json.Encoder(decimal_format="number")
EURO = {"value": "EUR", "name": "Euro"}
DOLLAR = {"value": "USD", "name": "United States Dollar"}


def line(qty: str, price: str, tax_code: str | None = None) -> dict[str, Any]:
    """A line of item 1 (the sandbox's "Services"), not taxable: Amount = qty x price. Outside
    the US a line must name its tax code."""
    detail: dict[str, Any] = {
        "ItemRef": {"value": "1"},
        "Qty": Decimal(qty),
        "UnitPrice": Decimal(price),
    }
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST with amounts as JSON numbers written exactly (1.1, not 1.1000000000000000888)."""
    return client.post(
        path, content=NUMBERS.encode(body), headers={"Content-Type": "application/json"}
    )


def fault(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    (error,) = response.json()["Fault"]["Error"]
    assert response.json()["Fault"]["type"] == "ValidationFault"
    return dict(error)


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def switch_on(running: RunningEmulator, realm: str | None = None) -> httpx.Response:
    return httpx.patch(
        f"{running.url}/_emulator/companies/{realm or running.realm}", json={"multicurrency": True}
    )


@pytest.fixture
def multi(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """The default (US, USD) company with multi-currency switched on."""
    assert switch_on(emulator).status_code == 200
    with emulator.api() as api:
        yield api


@pytest.fixture
def euro_customer(multi: httpx.Client) -> dict[str, Any]:
    made = multi.post(
        "/customer", json={"DisplayName": "Café Lyon", "CurrencyRef": {"value": "EUR"}}
    )
    assert made.status_code == 200, made.text
    return dict(made.json()["Customer"])


# Off by default ----------------------------------------------------------------------------------


def test_with_multicurrency_off_a_customer_or_invoice_in_euros_is_refused(
    emulator: RunningEmulator,
) -> None:
    with emulator.api() as api:
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is False
        refused = fault(
            api.post(
                "/customer", json={"DisplayName": "Café Lyon", "CurrencyRef": {"value": "EUR"}}
            )
        )
        assert refused["code"] == "6000"
        assert refused["element"] == "CurrencyRef"
        assert "EUR" in refused["Detail"]
        assert "USD" in refused["Detail"]
        assert "multicurrency" in refused["Detail"].casefold().replace("-", "")
        invoice = fault(
            post(api, "/invoice", {"CustomerRef": {"value": "1"}, "CurrencyRef": {"value": "EUR"},
                                   "Line": [line("2", "50")]})
        )  # fmt: skip
        assert invoice["code"] == "6000"
        assert "EUR" in invoice["Detail"]
        assert "USD" in invoice["Detail"]
        # A home-currency invoice keeps the shape QBO gives it with multi-currency off.
        made = post(api, "/invoice", {"CustomerRef": {"value": "1"}, "Line": [line("2", "50")]})
        assert made.status_code == 200, made.text
        plain = made.json()["Invoice"]
        assert plain["CurrencyRef"] == DOLLAR
        for absent in ("ExchangeRate", "HomeTotalAmt", "HomeBalance"):
            assert absent not in plain


def test_new_records_default_to_the_home_currency_of_a_company_abroad(
    emulator: RunningEmulator,
) -> None:
    realm = "4620816365000011"
    made = httpx.put(f"{emulator.url}/_emulator/companies/{realm}", json={"kind": "uk"})
    assert made.status_code == 200, made.text
    pound = {"value": "GBP", "name": "British Pound Sterling"}
    with emulator.api(realm=realm) as api:
        customer = api.post("/customer", json={"DisplayName": "Leeds Ltd"}).json()["Customer"]
        vendor = api.post("/vendor", json={"DisplayName": "Hull Supplies"}).json()["Vendor"]
        account = api.post("/account", json={"Name": "Barclays", "AccountType": "Bank"})
        assert customer["CurrencyRef"] == pound
        assert vendor["CurrencyRef"] == pound
        assert account.json()["Account"]["CurrencyRef"] == pound
        invoice = post(
            api,
            "/invoice",
            {"CustomerRef": {"value": customer["Id"]}, "Line": [line("1", "10", "4")]},
        )  # UK code 4: Exempt
        assert invoice.json()["Invoice"]["CurrencyRef"] == pound
        # The home currency named in full is the home currency; USD is foreign here.
        boston = api.post("/customer", json={"DisplayName": "Boston Inc", "CurrencyRef": DOLLAR})
        assert fault(boston)["code"] == "6000"


# Switching it on ---------------------------------------------------------------------------------


def test_multicurrency_switched_on_shows_in_preferences_and_cannot_be_switched_off(
    emulator: RunningEmulator,
) -> None:
    base = f"{emulator.url}/_emulator/companies/{emulator.realm}"
    on = switch_on(emulator)
    assert on.status_code == 200, on.text
    assert on.json()["multicurrency"] is True
    with emulator.api() as api:
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["CurrencyPrefs"] == {
            "MultiCurrencyEnabled": True,
            "HomeCurrency": {"value": "USD"},
        }
    off = httpx.patch(base, json={"multicurrency": False})
    assert off.status_code == 400
    assert "cannot be turned off" in off.text
    assert httpx.patch(base, json={"multicurrency": "yes"}).status_code == 400
    assert httpx.patch(base, json={}).status_code == 400
    # Switching it on again is no change; the status switch still works.
    assert switch_on(emulator).status_code == 200
    ended = httpx.patch(base, json={"status": "active"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "active"
    with emulator.api() as api:
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
    assert (
        httpx.patch(
            f"{emulator.url}/_emulator/companies/4620816365009999", json={"multicurrency": True}
        ).status_code
        == 404
    )


def test_a_company_can_be_seeded_with_multicurrency_on(emulator: RunningEmulator) -> None:
    realm = "4620816365000012"
    base = f"{emulator.url}/_emulator/companies/{realm}"
    made = httpx.put(base, json={"kind": "ca", "multicurrency": True})
    assert made.status_code == 200, made.text
    assert made.json()["multicurrency"] is True
    assert httpx.put(base, json={"kind": "ca", "multicurrency": "on"}).status_code == 400
    with emulator.api(realm=realm) as api:
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["CurrencyPrefs"] == {
            "MultiCurrencyEnabled": True,
            "HomeCurrency": {"value": "CAD"},
        }
        # A seeded invoice (C$ home currency) carries the rate 1 and its home amounts.
        invoice = api.get("/invoice/2").json()["Invoice"]
        assert money(invoice["ExchangeRate"]) == 1
        assert money(invoice["HomeTotalAmt"]) == money(invoice["TotalAmt"])
        assert money(invoice["HomeBalance"]) == money(invoice["Balance"])
        euro = api.post("/customer", json={"DisplayName": "Paris SA", "CurrencyRef": EURO})
        assert euro.status_code == 200, euro.text
    # Resetting the company seeds it afresh: off unless asked for.
    assert httpx.put(base, json={"kind": "ca"}).json()["multicurrency"] is False


def test_the_emulator_seeded_with_multicurrency_has_it_on_in_every_company() -> None:
    config = EmulatorConfig(company="au", multicurrency=True)
    with RunningEmulator(config) as running:
        for realm in running.service.companies:
            with running.api(realm=realm) as api:
                prefs = api.get("/preferences").json()["Preferences"]
                assert prefs["CurrencyPrefs"] == {
                    "MultiCurrencyEnabled": True,
                    "HomeCurrency": {"value": "AUD"},
                }


def test_multicurrency_switched_on_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    with RunningEmulator(EmulatorConfig(state_file=state)) as running:
        assert switch_on(running).status_code == 200
        token = running.token()
        with running.api(token) as api:
            made = api.post("/customer", json={"DisplayName": "Café Lyon", "CurrencyRef": EURO})
            assert made.status_code == 200, made.text
    with RunningEmulator(EmulatorConfig(state_file=state)) as again, again.api(token) as api:
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
        customer = api.get(f"/customer/{made.json()['Customer']['Id']}").json()["Customer"]
        invoice = post(api, "/invoice", {"CustomerRef": {"value": customer["Id"]},
                                         "ExchangeRate": Decimal("0.5"),
                                         "Line": [line("1", "9.99")]})  # fmt: skip
        assert invoice.status_code == 200, invoice.text
        assert money(invoice.json()["Invoice"]["HomeTotalAmt"]) == Decimal("5.00")  # 4.995 up


def test_the_emulator_command_takes_multicurrency() -> None:
    with emulator_command.make_context("emulator", ["--multicurrency", "--company", "uk"]) as ctx:
        assert ctx.params["multicurrency"] is True
    with emulator_command.make_context("emulator", []) as ctx:
        assert ctx.params["multicurrency"] is False
    help_text = emulator_command.get_help(click.Context(emulator_command, info_name="emulator"))
    assert "--multicurrency" in help_text


# Customers, vendors, accounts --------------------------------------------------------------------


def test_a_customer_in_euros_gets_the_currency_named_and_keeps_it(
    multi: httpx.Client, euro_customer: dict[str, Any]
) -> None:
    assert euro_customer["CurrencyRef"] == EURO
    assert multi.get("/customer/1").json()["Customer"]["CurrencyRef"] == DOLLAR
    changed = multi.post(
        "/customer",
        json={"Id": euro_customer["Id"], "SyncToken": euro_customer["SyncToken"], "sparse": True,
              "CurrencyRef": {"value": "USD"}},
    )  # fmt: skip
    refused = fault(changed)
    assert refused["code"] == "6000"
    assert refused["element"] == "CurrencyRef"
    assert "EUR" in refused["Detail"]
    assert "USD" in refused["Detail"]
    # Other changes keep the currency, and a full update that leaves it out does not clear it.
    renamed = multi.post(
        "/customer",
        json={"Id": euro_customer["Id"], "SyncToken": euro_customer["SyncToken"],
              "DisplayName": "Café Lyon SARL"},
    )  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["Customer"]["CurrencyRef"] == EURO
    # A job is in its parent's currency.
    job = multi.post(
        "/customer",
        json={"DisplayName": "Lyon depot", "ParentRef": {"value": euro_customer["Id"]}},
    )
    assert job.status_code == 200, job.text
    assert job.json()["Customer"]["CurrencyRef"] == EURO
    other = multi.post(
        "/customer",
        json={"DisplayName": "Lyon annex", "ParentRef": {"value": euro_customer["Id"]},
              "CurrencyRef": {"value": "USD"}},
    )  # fmt: skip
    assert fault(other)["code"] == "6000"


@pytest.mark.parametrize(
    ("code", "name"),
    [("USD", "United States Dollar"), ("CAD", "Canadian Dollar"),
     ("GBP", "British Pound Sterling"), ("AUD", "Australian Dollar"), ("EUR", "Euro"),
     ("NZD", "New Zealand Dollar"), ("JPY", "Japanese Yen"), ("CHF", "Swiss Franc"),
     ("MXN", "Mexican Peso"), ("INR", "Indian Rupee")],
)  # fmt: skip
def test_each_currency_of_the_table_is_named_by_the_server(
    multi: httpx.Client, code: str, name: str
) -> None:
    made = multi.post(
        "/customer", json={"DisplayName": f"Buyer in {code}", "CurrencyRef": {"value": code}}
    )
    assert made.status_code == 200, made.text
    assert made.json()["Customer"]["CurrencyRef"] == {"value": code, "name": name}


@pytest.mark.parametrize(
    ("ref", "code", "element"),
    [({"value": "XYZ"}, "2500", "CurrencyRef"), ({"value": "eur"}, "2500", "CurrencyRef"),
     ({"name": "Euro"}, "2020", "CurrencyRef.value")],
)  # fmt: skip
def test_a_code_that_is_no_currency_is_an_invalid_reference(
    multi: httpx.Client, ref: dict[str, str], code: str, element: str
) -> None:
    refused = multi.post("/customer", json={"DisplayName": "Nowhere", "CurrencyRef": ref})
    error = fault(refused)
    assert (error["code"], error["element"]) == (code, element)


def test_vendors_and_accounts_take_a_currency_fixed_at_creation(multi: httpx.Client) -> None:
    vendor = multi.post("/vendor", json={"DisplayName": "Bordeaux Wines", "CurrencyRef": EURO})
    assert vendor.status_code == 200, vendor.text
    assert vendor.json()["Vendor"]["CurrencyRef"] == EURO
    account = multi.post(
        "/account",
        json={"Name": "Deutsche Bank", "AccountType": "Bank", "CurrencyRef": {"value": "EUR"}},
    )
    assert account.status_code == 200, account.text
    made = account.json()["Account"]
    assert made["CurrencyRef"] == EURO
    changed = multi.post(
        "/account",
        json={"Id": made["Id"], "SyncToken": made["SyncToken"], "sparse": True,
              "CurrencyRef": {"value": "GBP"}},
    )  # fmt: skip
    assert fault(changed)["code"] == "6000"


# Invoices ----------------------------------------------------------------------------------------


def test_an_invoice_in_euros_carries_its_rate_and_home_amounts(
    multi: httpx.Client, euro_customer: dict[str, Any]
) -> None:
    customer = {"value": euro_customer["Id"]}
    sent = {"CustomerRef": customer, "ExchangeRate": Decimal("1.1"),
            "HomeTotalAmt": Decimal("5"), "Line": [line("2", "50")]}  # fmt: skip
    made = post(multi, "/invoice", sent)
    assert made.status_code == 200, made.text
    invoice = made.json()["Invoice"]
    assert invoice["CurrencyRef"] == EURO  # the customer's, when not sent
    assert money(invoice["TotalAmt"]) == Decimal("100.00")
    assert money(invoice["ExchangeRate"]) == Decimal("1.1")
    assert money(invoice["HomeTotalAmt"]) == Decimal("110.00")  # 100.00 x 1.1
    assert money(invoice["Balance"]) == Decimal("100.00")
    assert money(invoice["HomeBalance"]) == Decimal("110.00")
    # The customer owes in its own currency.
    owed = multi.get(f"/customer/{euro_customer['Id']}").json()["Customer"]
    assert money(owed["Balance"]) == Decimal("100.00")
    # A new rate: 10.10 x 1.25 = 12.625, rounded half up to 12.63.
    changed = post(
        multi, "/invoice",
        {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
         "ExchangeRate": Decimal("1.25"), "Line": [line("1", "10.10")]},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    after = changed.json()["Invoice"]
    assert money(after["TotalAmt"]) == Decimal("10.10")
    assert money(after["HomeTotalAmt"]) == Decimal("12.63")
    assert money(after["HomeBalance"]) == Decimal("12.63")
    # Voided, it is worth nothing in either currency.
    voided = multi.post(
        "/invoice", params={"operation": "void"},
        json={"Id": after["Id"], "SyncToken": after["SyncToken"]},
    )  # fmt: skip
    assert voided.status_code == 200, voided.text
    for key in ("TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance"):
        assert money(voided.json()["Invoice"][key]) == 0, key


def test_an_invoice_without_a_rate_is_at_one_and_a_home_invoice_at_one_whatever_is_sent(
    multi: httpx.Client, euro_customer: dict[str, Any]
) -> None:
    euros = post(multi, "/invoice", {"CustomerRef": {"value": euro_customer["Id"]},
                                     "CurrencyRef": {"value": "EUR"},
                                     "Line": [line("3", "12.50")]})  # fmt: skip
    assert euros.status_code == 200, euros.text
    assert money(euros.json()["Invoice"]["ExchangeRate"]) == 1
    assert money(euros.json()["Invoice"]["HomeTotalAmt"]) == Decimal("37.50")
    dollars = post(multi, "/invoice", {"CustomerRef": {"value": "1"},
                                       "ExchangeRate": Decimal("1.3"),
                                       "Line": [line("3", "12.50")]})  # fmt: skip
    assert dollars.status_code == 200, dollars.text
    home = dollars.json()["Invoice"]
    assert home["CurrencyRef"] == DOLLAR
    assert money(home["ExchangeRate"]) == 1
    assert money(home["HomeTotalAmt"]) == Decimal("37.50")
    assert money(home["HomeBalance"]) == Decimal("37.50")


def test_an_invoice_not_in_its_customers_currency_is_refused(
    multi: httpx.Client, euro_customer: dict[str, Any]
) -> None:
    for code in ("USD", "GBP"):
        refused = post(multi, "/invoice", {"CustomerRef": {"value": euro_customer["Id"]},
                                           "CurrencyRef": {"value": code},
                                           "Line": [line("2", "50")]})  # fmt: skip
        error = fault(refused)
        assert error["code"] == "6000"
        assert error["element"] == "CurrencyRef"
        assert code in error["Detail"]
        assert "EUR" in error["Detail"]
    # A USD customer cannot be billed in euros either.
    error = fault(post(multi, "/invoice", {"CustomerRef": {"value": "1"}, "CurrencyRef": EURO,
                                           "Line": [line("2", "50")]}))  # fmt: skip
    assert error["code"] == "6000"
    unknown = post(multi, "/invoice", {"CustomerRef": {"value": "1"},
                                       "CurrencyRef": {"value": "XYZ"},
                                       "Line": [line("2", "50")]})  # fmt: skip
    assert fault(unknown)["code"] == "2500"


@pytest.mark.parametrize(("rate", "code"), [("0", "6000"), ("-1.1", "6000"), ("abc", "2010")])
def test_an_exchange_rate_must_be_a_number_above_zero(
    multi: httpx.Client, euro_customer: dict[str, Any], rate: str, code: str
) -> None:
    sent: dict[str, Any] = {"CustomerRef": {"value": euro_customer["Id"]},
                            "Line": [line("2", "50")]}  # fmt: skip
    sent["ExchangeRate"] = rate if code == "2010" else Decimal(rate)
    error = fault(post(multi, "/invoice", sent))
    assert error["code"] == code
    assert error["element"] == "ExchangeRate"


# Payments ----------------------------------------------------------------------------------------


def _account(api: httpx.Client, name: str) -> Decimal:
    found = api.get("/query", params={"query": f"select * from Account where Name = '{name}'"})
    (row,) = found.json()["QueryResponse"]["Account"]
    return money(row["CurrentBalance"])


def test_a_payment_in_euros_pays_the_invoice_in_euros_and_the_books_in_dollars(
    multi: httpx.Client, euro_customer: dict[str, Any]
) -> None:
    receivable = _account(multi, "Accounts Receivable (A/R)")
    undeposited = _account(multi, "Undeposited Funds")
    customer = {"value": euro_customer["Id"]}
    bill = post(multi, "/invoice", {"CustomerRef": customer, "ExchangeRate": Decimal("1.1"),
                                    "Line": [line("2", "50")]}).json()["Invoice"]  # fmt: skip
    # A/R takes the invoice at home: 100.00 EUR x 1.1 = 110.00 USD.
    assert _account(multi, "Accounts Receivable (A/R)") == receivable + Decimal("110.00")
    # 60.00 EUR at 1.2 = 72.00 USD; 40.00 of it paid to the invoice, 20.00 a credit.
    sent = {"CustomerRef": customer, "TotalAmt": Decimal("60"), "ExchangeRate": Decimal("1.2"),
            "HomeTotalAmt": Decimal("1"),
            "Line": [{"Amount": Decimal("40"),
                      "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Invoice"}]}]}  # fmt: skip
    made = post(multi, "/payment", sent)
    assert made.status_code == 200, made.text
    payment = made.json()["Payment"]
    assert payment["CurrencyRef"] == EURO  # the customer's, when not sent
    assert money(payment["ExchangeRate"]) == Decimal("1.2")
    assert money(payment["HomeTotalAmt"]) == Decimal("72.00")  # what was sent is replaced
    invoice = multi.get(f"/invoice/{bill['Id']}").json()["Invoice"]
    assert money(invoice["Balance"]) == Decimal("60.00")  # 100.00 - 40.00, in euros
    assert money(invoice["HomeBalance"]) == Decimal("66.00")  # 60.00 x the invoice's 1.1
    owed = multi.get(f"/customer/{euro_customer['Id']}").json()["Customer"]
    assert money(owed["Balance"]) == Decimal("40.00")  # 60.00 owed less the 20.00 credit
    # A/R: + 110.00 - 40.00 x 1.1 (44.00, the invoice's part at its rate) - 20.00 x 1.2 (24.00)
    # = + 42.00; Undeposited Funds (in dollars) takes the payment at home: 72.00.
    assert _account(multi, "Accounts Receivable (A/R)") == receivable + Decimal("42.00")
    assert _account(multi, "Undeposited Funds") == undeposited + Decimal("72.00")
    # Voided, it is worth nothing in either currency.
    voided = multi.post(
        "/payment", params={"operation": "update", "include": "void"},
        json={"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
    )  # fmt: skip
    assert voided.status_code == 200, voided.text
    assert money(voided.json()["Payment"]["HomeTotalAmt"]) == 0
    assert _account(multi, "Undeposited Funds") == undeposited


def test_a_payment_not_in_its_customers_currency_is_refused(
    multi: httpx.Client, euro_customer: dict[str, Any]
) -> None:
    dollars = post(multi, "/payment", {"CustomerRef": {"value": euro_customer["Id"]},
                                       "CurrencyRef": {"value": "USD"}, "TotalAmt": 5})  # fmt: skip
    error = fault(dollars)
    assert (error["code"], error["element"]) == ("6000", "CurrencyRef")
    assert "USD" in error["Detail"]
    assert "EUR" in error["Detail"]


def test_with_multicurrency_off_a_payment_in_euros_is_refused(emulator: RunningEmulator) -> None:
    with emulator.api() as api:
        euros = post(api, "/payment", {"CustomerRef": {"value": "1"},
                                       "CurrencyRef": {"value": "EUR"}, "TotalAmt": 5})  # fmt: skip
        assert fault(euros)["code"] == "6000"
        plain = post(api, "/payment", {"CustomerRef": {"value": "1"}, "TotalAmt": 5})
        assert plain.status_code == 200, plain.text
        for absent in ("ExchangeRate", "HomeTotalAmt"):
            assert absent not in plain.json()["Payment"]
