"""Published QBO client libraries, written by others, work against the emulator unchanged.

intuitlib (Intuit's own OAuth client) is pointed at the emulator's discovery document, which it
accepts in place of an environment name; python-quickbooks is given the emulator's API base URL.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

intuitlib_client = pytest.importorskip("intuitlib.client")
quickbooks = pytest.importorskip("quickbooks")

from intuitlib.enums import Scopes  # noqa: E402
from quickbooks import QuickBooks  # noqa: E402
from quickbooks.batch import batch_create  # noqa: E402
from quickbooks.exceptions import QuickbooksException  # noqa: E402
from quickbooks.objects.base import LinkedTxn, Ref  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.detailline import (  # noqa: E402
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice  # noqa: E402
from quickbooks.objects.item import Item  # noqa: E402
from quickbooks.objects.payment import Payment, PaymentLine  # noqa: E402
from quickbooks.objects.paymentmethod import PaymentMethod  # noqa: E402
from quickbooks.objects.tax import TxnTaxDetail  # noqa: E402
from quickbooks.objects.taxcode import TaxCode  # noqa: E402
from quickbooks.objects.taxrate import TaxRate  # noqa: E402

from appliance.config import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET  # noqa: E402
from tests.harness.emulator import RunningEmulator  # noqa: E402

REDIRECT = "http://127.0.0.1:8780/oauth/callback"


@pytest.fixture
def qb(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    # requests-oauthlib refuses http:// unless told the transport is local, as it is here.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = intuitlib_client.AuthClient(
        EMULATOR_CLIENT_ID,
        EMULATOR_CLIENT_SECRET,
        REDIRECT,
        environment=emulator.url + "/.well-known/openid_sandbox_configuration",
    )
    url = auth.get_authorization_url([Scopes.ACCOUNTING])
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    browser = httpx.post(
        auth.auth_endpoint, data={**params, "realm_id": emulator.realm, "action": "connect"}
    )
    back = {k: v[0] for k, v in parse_qs(urlsplit(browser.headers["location"]).query).items()}
    assert back["state"] == auth.state_token
    auth.get_bearer_token(back["code"], realm_id=back["realmId"])
    first_refresh = auth.refresh_token
    auth.refresh()
    assert auth.refresh_token != first_refresh
    client = QuickBooks(
        auth_client=auth,
        refresh_token=auth.refresh_token,
        company_id=back["realmId"],
        minorversion=75,
    )
    client.api_url_v3 = emulator.url + "/v3"
    return client


def test_python_quickbooks_lists_and_filters_customers(qb: QuickBooks) -> None:
    customers = Customer.all(max_results=1000, qb=qb)
    assert len(customers) > 10
    (amy,) = Customer.filter(DisplayName="Amy's Bird Sanctuary", qb=qb)
    assert amy.Id in {c.Id for c in customers}
    assert Customer.count(qb=qb) == len(customers)


def test_python_quickbooks_creates_and_updates_a_customer(qb: QuickBooks) -> None:
    customer = Customer()
    customer.DisplayName = "Library Made, Inc."
    customer.CompanyName = "Library Made"
    customer.save(qb=qb)
    assert customer.Id
    assert str(customer.SyncToken) == "0"
    customer.Notes = "updated by python-quickbooks"
    customer.save(qb=qb)
    fresh = Customer.get(customer.Id, qb=qb)
    assert fresh.Notes == "updated by python-quickbooks"
    assert str(fresh.SyncToken) == "1"


def test_python_quickbooks_sees_a_duplicate_name_as_a_validation_error(qb: QuickBooks) -> None:
    customer = Customer()
    customer.DisplayName = "Amy's Bird Sanctuary"
    with pytest.raises(QuickbooksException) as caught:
        customer.save(qb=qb)
    assert caught.value.error_code == 6240


def test_python_quickbooks_batch_creates_customers(qb: QuickBooks) -> None:
    batch = []
    for n in range(5):
        customer = Customer()
        customer.DisplayName = f"Batch Customer {n}"
        batch.append(customer)
    result = batch_create(batch, qb=qb)
    assert len(result.successes) == 5
    assert not result.faults


def test_python_quickbooks_lists_items_and_creates_an_invoice(qb: QuickBooks) -> None:
    items = Item.filter(Type="Service", qb=qb)
    assert items
    customer = Customer.filter(DisplayName="Amy's Bird Sanctuary", qb=qb)[0]
    line = SalesItemLine()
    line.Amount = 150
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = items[0].to_ref()
    line.SalesItemLineDetail.Qty = 2
    line.SalesItemLineDetail.UnitPrice = 75
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(line)
    invoice.save(qb=qb)
    saved = Invoice.get(invoice.Id, qb=qb)
    assert saved.DocNumber
    # The first service (Concrete) is Taxable: under automated sales tax its line is TAX, and
    # Amy's Bird Sanctuary ships to Bayshore, CA (state rate only): 7.25 % of 150 = 10.875 ->
    # 10.88; 150 + 10.88 = 160.88.
    assert float(saved.TxnTaxDetail.TotalTax) == 10.88
    assert float(saved.TotalAmt) == 160.88
    listed = Invoice.filter(DocNumber=saved.DocNumber, qb=qb)
    assert [i.Id for i in listed] == [invoice.Id]


def test_python_quickbooks_records_a_payment_against_an_invoice(qb: QuickBooks) -> None:
    customer = Customer()
    customer.DisplayName = "Library Payer"
    customer.save(qb=qb)
    line = SalesItemLine()
    line.Amount = 120
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Item.filter(Name="Design", qb=qb)[0].to_ref()  # not taxable
    line.SalesItemLineDetail.Qty = 1
    line.SalesItemLineDetail.UnitPrice = 120
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(line)
    invoice.save(qb=qb)
    assert float(Invoice.get(invoice.Id, qb=qb).Balance) == 120

    (visa,) = PaymentMethod.filter(Name="Visa", qb=qb)
    link = LinkedTxn()
    link.TxnId = invoice.Id
    link.TxnType = "Invoice"
    applied = PaymentLine()
    applied.Amount = 45.5
    applied.LinkedTxn.append(link)
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = 50
    payment.PaymentMethodRef = visa.to_ref()
    payment.Line.append(applied)
    payment.save(qb=qb)

    saved = Payment.get(payment.Id, qb=qb)
    assert (float(saved.TotalAmt), float(saved.UnappliedAmt)) == (50, 4.5)  # 50 - 45.50
    assert saved.PaymentMethodRef.name == "Visa"
    assert [p.Id for p in Payment.filter(CustomerRef=customer.Id, qb=qb)] == [payment.Id]
    assert payment.Id in {p.Id for p in Payment.all(max_results=1000, qb=qb)}
    paid = Invoice.get(invoice.Id, qb=qb)
    assert float(paid.Balance) == 74.5  # 120 - 45.50
    assert [(t.TxnId, t.TxnType) for t in paid.LinkedTxn] == [(payment.Id, "Payment")]
    saved.void(qb=qb)
    assert float(Invoice.get(invoice.Id, qb=qb).Balance) == 120


def test_python_quickbooks_reads_tax_codes_and_rates_and_makes_a_taxed_invoice(
    qb: QuickBooks, emulator: RunningEmulator
) -> None:
    reset = httpx.put(
        f"{emulator.url}/_emulator/companies/{emulator.realm}", json={"kind": "us-manual"}
    )
    assert reset.status_code == 200, reset.text
    codes = TaxCode.all(qb=qb)
    assert [c.Name for c in codes] == ["TAX", "NON", "California", "Tucson"]
    tucson = TaxCode.get(3, qb=qb)
    assert tucson.TaxGroup is True
    rate_ids = [d.TaxRateRef.value for d in tucson.SalesTaxRateList.TaxRateDetail]
    assert rate_ids == ["1", "2"]
    state, city = (TaxRate.get(rid, qb=qb) for rid in rate_ids)
    assert (state.Name, float(state.RateValue)) == ("AZ State tax", 5.6)
    assert (city.Name, float(city.RateValue)) == ("Tucson City", 2.6)
    assert [r.Name for r in TaxRate.filter(Active=True, qb=qb)] == [
        "AZ State tax",
        "Tucson City",
        "California",
    ]
    assert TaxCode.get("NON", qb=qb).Taxable is False
    # A taxed invoice as a python-quickbooks user writes it: TAX lines and the transaction's code
    # (its TxnTaxDetail also sends TotalTax 0, which means "figure it").
    invoice = Invoice()
    invoice.CustomerRef = Customer.filter(DisplayName="Amy's Bird Sanctuary", qb=qb)[0].to_ref()
    for amount in (275, 12.75):
        line = SalesItemLine()
        line.Amount = amount
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = Item.filter(Name="Pump", qb=qb)[0].to_ref()
        line.SalesItemLineDetail.Qty = 1
        line.SalesItemLineDetail.UnitPrice = amount
        line.SalesItemLineDetail.TaxCodeRef = Ref()
        line.SalesItemLineDetail.TaxCodeRef.value = "TAX"
        invoice.Line.append(line)
    invoice.TxnTaxDetail = TxnTaxDetail()
    invoice.TxnTaxDetail.TxnTaxCodeRef = Ref()
    invoice.TxnTaxDetail.TxnTaxCodeRef.value = "3"
    invoice.save(qb=qb)
    saved = Invoice.get(invoice.Id, qb=qb)
    # Tucson on 287.75: 5.6 % = 16.114 -> 16.11, 2.6 % = 7.4815 -> 7.48; 23.59; 311.34.
    assert float(saved.TxnTaxDetail.TotalTax) == 23.59
    assert float(saved.TotalAmt) == 311.34
    assert [line.TaxLineDetail.TaxRateRef.value for line in saved.TxnTaxDetail.TaxLine] == [
        "1",
        "2",
    ]
