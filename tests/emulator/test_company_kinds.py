"""Companies of five kinds (US with automated or manual sales tax, Canada, UK, Australia) and
their sales-tax lists, read as QBO answers them (../shared/qbo/FACTS.md §11).

The figures here are written out by hand from FACTS and the recordings (the taxed invoice in
samples/recorded/nango_2026/get-invoice uses TaxCode 2 with TaxRate 3 at 8 %), not read from
the emulator's own tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from appliance.emulator.app import EmulatorConfig
from tests.harness.emulator import RunningEmulator

KIND_REALMS = {
    kind: f"462081636500000{n}"
    for n, kind in enumerate(("us-ast", "us-manual", "ca", "uk", "au"), 1)
}

# kind: (CompanyInfo.Country, CompanyAddr.Country, home currency, TaxPrefs)
EXPECTED: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "us-ast": ("US", "USA", "USD", {"UsingSalesTax": True, "PartnerTaxEnabled": True}),
    "us-manual": ("US", "USA", "USD", {"UsingSalesTax": True, "TaxGroupCodeRef": {"value": "3"}}),
    "ca": ("CA", "CAN", "CAD", {"UsingSalesTax": True}),
    "uk": ("GB", "GBR", "GBP", {"UsingSalesTax": True}),
    "au": ("AU", "AUS", "AUD", {"UsingSalesTax": True}),
}

# kind: {TaxCode Name: (Taxable, TaxGroup, [(rate Name, RateValue), ...])}
CODES: dict[str, dict[str, tuple[bool, bool, list[tuple[str, str]]]]] = {
    "us-ast": {"TAX": (True, False, []), "NON": (False, False, [])},
    "us-manual": {
        "TAX": (True, False, []),
        "NON": (False, False, []),
        "California": (True, False, [("California", "8")]),
        "Tucson": (True, True, [("AZ State tax", "5.6"), ("Tucson City", "2.6")]),
    },
    "ca": {
        "GST": (True, False, [("GST", "5")]),
        "HST ON": (True, False, [("HST ON", "13")]),
        "Zero-rated": (True, False, [("Zero-rated", "0")]),
        "Exempt": (False, False, [("Exempt", "0")]),
    },
    "uk": {
        "20.0% S": (True, False, [("20.0% S", "20")]),
        "5.0% R": (True, False, [("5.0% R", "5")]),
        "0.0% Z": (True, False, [("0.0% Z", "0")]),
        "Exempt": (False, False, [("Exempt", "0")]),
    },
    "au": {"GST": (True, False, [("GST", "10")]), "GST-free": (False, False, [("GST-free", "0")])},
}
AGENCIES = {
    "us-ast": {
        "California Department of Tax and Fee Administration",
        "Arizona Department of Revenue",
        "New York State Department of Taxation and Finance",
        "New Jersey Division of Taxation",
        "Texas Comptroller of Public Accounts",
        "Washington State Department of Revenue",
    },
    "us-manual": {"Arizona Dept. of Revenue", "Board of Equalization"},
    "ca": {"Canada Revenue Agency"},
    "uk": {"HM Revenue & Customs"},
    "au": {"Australian Taxation Office"},
}


@pytest.fixture(scope="module")
def kinds() -> Iterator[RunningEmulator]:
    """One emulator with a company of each kind, made through the control API."""
    with RunningEmulator() as running:
        for kind, realm in KIND_REALMS.items():
            made = httpx.put(f"{running.url}/_emulator/companies/{realm}", json={"kind": kind})
            assert made.status_code == 200, made.text
            assert made.json()["kind"] == kind
        yield running


def query(client: httpx.Client, statement: str) -> list[dict[str, Any]]:
    response = client.get("/query", params={"query": statement})
    assert response.status_code == 200, response.text
    entity = statement.split()[3]
    rows: list[dict[str, Any]] = response.json()["QueryResponse"].get(entity, [])
    return rows


@pytest.mark.parametrize("kind", list(KIND_REALMS))
def test_each_kind_has_its_country_preferences_and_accounts(
    kinds: RunningEmulator, kind: str
) -> None:
    country, iso3, currency, tax_prefs = EXPECTED[kind]
    with kinds.api(realm=KIND_REALMS[kind]) as api:
        info = api.get(f"/companyinfo/{KIND_REALMS[kind]}").json()["CompanyInfo"]
        assert info["Country"] == country
        assert info["CompanyAddr"]["Country"] == iso3
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["TaxPrefs"] == tax_prefs
        assert prefs["CurrencyPrefs"] == {
            "MultiCurrencyEnabled": False,
            "HomeCurrency": {"value": currency},
        }
        assert prefs["SalesFormsPrefs"]["AllowDiscount"] is True
        assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is False
        assert query(api, "select * from Preferences") == [prefs]
        undeposited = query(api, "select * from Account where Name = 'Undeposited Funds'")
        assert [(a["AccountType"], a["AccountSubType"]) for a in undeposited] == [
            ("Other Current Asset", "UndepositedFunds")
        ]
        assert undeposited[0]["CurrencyRef"]["value"] == currency
        discounts = query(
            api, "select * from Account where AccountSubType = 'DiscountsRefundsGiven'"
        )
        assert "Discounts given" in {a["Name"] for a in discounts}
        assert {a["AccountType"] for a in discounts} == {"Income"}
        # The sandbox's customers are there in every kind.
        amy = query(api, "select * from Customer where DisplayName = 'Amy\\'s Bird Sanctuary'")
        assert [c["Id"] for c in amy] == ["1"]


@pytest.mark.parametrize("kind", list(KIND_REALMS))
def test_each_kind_has_its_tax_codes_rates_and_agencies(kinds: RunningEmulator, kind: str) -> None:
    with kinds.api(realm=KIND_REALMS[kind]) as api:
        codes = query(api, "select * from TaxCode")
        rates = {r["Id"]: r for r in query(api, "select * from TaxRate")}
        agencies = {a["Id"]: a for a in query(api, "select * from TaxAgency")}
        assert {a["DisplayName"] for a in agencies.values()} == AGENCIES[kind]
        found = {}
        for code in codes:
            assert code["Active"] is True
            assert code["Description"] == code["Name"]
            details = code.get("SalesTaxRateList", {}).get("TaxRateDetail", [])
            figures = []
            for detail in details:
                rate = rates[detail["TaxRateRef"]["value"]]
                assert detail["TaxRateRef"]["name"] == rate["Name"]
                assert detail["TaxTypeApplicable"] == "TaxOnAmount"
                assert rate["AgencyRef"]["value"] in agencies
                assert rate["Active"] is True
                figures.append((rate["Name"], Decimal(str(rate["RateValue"]))))
            found[code["Name"]] = (code["Taxable"], code["TaxGroup"], figures)
        expected = {
            name: (taxable, group, [(rate, Decimal(value)) for rate, value in figures])
            for name, (taxable, group, figures) in CODES[kind].items()
        }
        assert found == expected


def test_us_codes_are_the_pseudo_codes_and_the_recorded_california_rate() -> None:
    with RunningEmulator(EmulatorConfig(company="us-manual")) as running, running.api() as api:
        for pseudo in ("TAX", "NON"):
            code = api.get(f"/taxcode/{pseudo}").json()["TaxCode"]
            assert (code["Id"], code["Name"]) == (pseudo, pseudo)
        # The recorded taxed invoice: TxnTaxCodeRef 2, TaxRateRef 3, 8 %.
        california = api.get("/taxcode/2").json()["TaxCode"]
        assert california["Name"] == "California"
        detail = california["SalesTaxRateList"]["TaxRateDetail"]
        assert [d["TaxRateRef"]["value"] for d in detail] == ["3"]
        rate = api.get("/taxrate/3").json()["TaxRate"]
        assert (rate["Name"], rate["RateValue"]) == ("California", 8)
        assert api.get("/taxagency/2").json()["TaxAgency"]["DisplayName"] == (
            "Board of Equalization"
        )
        tucson = query(api, "select * from TaxCode where TaxGroup = true")
        assert [c["Id"] for c in tucson] == ["3"]
        # Both seeded companies are of the configured kind.
        other = next(r for r in running.service.companies if r != running.realm)
        with running.api(realm=other) as second:
            assert len(query(second, "select * from TaxCode")) == 4


def test_tax_entities_are_read_only_and_not_in_cdc(emulator: RunningEmulator) -> None:
    with emulator.api() as api:
        made = api.post("/taxcode", json={"Name": "Mine"})
        assert made.status_code == 400, made.text
        assert "Unsupported" in made.text or "unsupported" in made.text
        missing = api.get("/taxrate/999")
        assert missing.status_code == 400
        bad = api.get("/taxcode/ABC")
        assert bad.status_code == 400
        cdc = api.get("/cdc", params={"entities": "TaxCode", "changedSince": "2026-01-01"})
        assert cdc.status_code == 400


def test_the_default_company_is_us_with_automated_sales_tax(emulator: RunningEmulator) -> None:
    with emulator.api() as api:
        prefs = api.get("/preferences").json()["Preferences"]
        assert prefs["TaxPrefs"] == {"UsingSalesTax": True, "PartnerTaxEnabled": True}
        assert [c["Id"] for c in query(api, "select * from TaxCode")] == ["TAX", "NON"]
        # The emulator's own AST rate table, as rate records no code lists (QBO owns them).
        rates = {
            r["Name"]: Decimal(str(r["RateValue"])) for r in query(api, "select * from TaxRate")
        }
        assert len(rates) == 15
        assert rates["California State"] == Decimal("7.25")
        assert rates["Seattle City and Transit"] == Decimal("3.85")


def test_the_control_api_refuses_an_unknown_kind_or_realm(emulator: RunningEmulator) -> None:
    base = f"{emulator.url}/_emulator/companies"
    wrong = httpx.put(f"{base}/4620816365000009", json={"kind": "fr"})
    assert wrong.status_code == 400
    assert "us-ast, us-manual, ca, uk, au" in wrong.text
    assert httpx.put(f"{base}/not-a-realm", json={"kind": "uk"}).status_code == 400
    assert httpx.put(f"{base}/4620816365000009", json={"name": 5}).status_code == 400
    # Resetting an existing company gives back its seed, of the new kind.
    with emulator.api() as api:
        assert api.post("/customer", json={"DisplayName": "Gone Soon"}).status_code == 200
    reset = httpx.put(f"{base}/{emulator.realm}", json={"kind": "au", "name": "Bondi Pty Ltd"})
    assert reset.status_code == 200, reset.text
    with emulator.api() as api:
        info = api.get(f"/companyinfo/{emulator.realm}").json()["CompanyInfo"]
        assert (info["Country"], info["CompanyName"]) == ("AU", "Bondi Pty Ltd")
        assert query(api, "select * from Customer where DisplayName = 'Gone Soon'") == []
