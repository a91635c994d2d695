"""A company's tax setup as the other parts leave it: its books (read at connect), its tax codes
(imported) and JobRoutr's rates (learned from invoices), written straight into a store."""

from __future__ import annotations

from appliance.config import Settings
from appliance.core.books import Books, TaxModel
from appliance.storage import taxes
from appliance.storage.books import save_books
from appliance.storage.models import QboTaxCode
from appliance.storage.store import Store

#: Codes of percents the emulator's own companies do not have, so an import beside them changes
#: no suggestion: (id, name, percent, active, taxable).
CODES = [
    ("901", "17.5% S", "17.5", True, True),
    ("902", "17.5% old", "17.5", False, True),
    ("903", "8.25% R", "8.25", True, True),
    ("904", "No VAT (exempt)", None, True, False),
]
RATES = [
    {"id": "r-std", "name": "VAT 17.5%", "percent": "17.5"},
    {"id": "r-red", "name": "Reduced 8.25%", "percent": "8.250"},
    {"id": "r-odd", "name": "Odd 3.3%", "percent": "3.3"},
]


def british(realm: str) -> Books:
    return Books(realm, "GB", TaxModel.PER_LINE, "GBP", False, True, True)


#: A British company's codes as QuickBooks names them, for pictures of the console.
UK_CODES = [
    ("1", "20.0% S", "20", True, True),
    ("2", "5.0% R", "5", True, True),
    ("3", "0.0% Z", "0", True, True),
    ("4", "Exempt", None, True, False),
]
UK_RATES = [
    {"id": "vat20", "name": "VAT 20%", "percent": "20"},
    {"id": "vat5", "name": "Reduced 5%", "percent": "5"},
    {"id": "vat0", "name": "Zero-rated", "percent": "0"},
    {"id": "levy", "name": "Tourist levy 2.5%", "percent": "2.5"},
]


def seed_taxes(
    settings: Settings,
    books: Books,
    rates: list[dict[str, str]] | None = None,
    codes: list[tuple[str, str, str | None, bool, bool]] | None = None,
) -> None:
    """Save ``books``, the ``codes`` (as imported rows; default ``CODES``) and learn ``rates``
    (default ``RATES``)."""
    store = Store.open(settings)
    try:
        save_books(store.engine, books)
        with store.session() as session:
            for qbo_id, name, percent, active, taxable in codes or CODES:
                session.merge(
                    QboTaxCode(
                        realm_id=books.realm_id, qbo_id=qbo_id, name=name, active=active,
                        taxable=taxable, percent=percent,
                        rates=[{"qbo_id": qbo_id, "name": name, "percent": percent or "0"}],
                    )
                )  # fmt: skip
            session.commit()
        taxes.learn(store.engine, books.realm_id, RATES if rates is None else rates, "evt_first")
    finally:
        store.close()
