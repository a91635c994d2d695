"""The company's books (``core.books.Books``) as stored: read at connect and on accounts imports."""

from __future__ import annotations

from sqlalchemy import Engine

from appliance.core.books import Books, TaxModel
from appliance.storage.db import session_scope
from appliance.storage.models import CompanyBooks
from appliance.storage.types import utcnow


def get_books(engine: Engine, realm_id: str) -> Books | None:
    with session_scope(engine) as session:
        row = session.get(CompanyBooks, realm_id)
        if row is None:
            return None
        return Books(
            realm_id=row.realm_id,
            country=row.country,
            tax_model=TaxModel(row.tax_model),
            home_currency=row.home_currency,
            multicurrency=row.multicurrency,
            allow_discount=row.allow_discount,
            custom_txn_numbers=row.custom_txn_numbers,
            read_at=row.read_at,
        )


def save_books(engine: Engine, books: Books) -> None:
    with session_scope(engine) as session:
        row = session.get(CompanyBooks, books.realm_id) or CompanyBooks(
            realm_id=books.realm_id, tax_model=books.tax_model
        )
        row.country = books.country
        row.tax_model = books.tax_model
        row.home_currency = books.home_currency
        row.multicurrency = books.multicurrency
        row.allow_discount = books.allow_discount
        row.custom_txn_numbers = books.custom_txn_numbers
        row.read_at = utcnow()
        session.add(row)
