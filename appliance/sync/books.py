"""Reading how the company keeps its books (``core.books``): at connect and on every accounts
import, ``CompanyInfo`` and ``Preferences`` are read and the derived ``Books`` stored.

A read that fails never fails what asked for it (connecting, an import): the books read before
are kept, the failure is logged, and ``problem`` holds it for the status until a read succeeds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.core.books import Books, books_from
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.errors import QboError
from appliance.storage.books import get_books, save_books
from appliance.storage.store import Store
from appliance.storage.types import utcnow

log = get_logger(__name__)


@dataclass(frozen=True)
class BooksProblem:
    """The last read of the books failed: for which company, when, on what occasion, why."""

    realm_id: str
    at: datetime
    occasion: str  # "connect" or "accounts import"
    error: str

    def sentence(self, kept: Books | None) -> str:
        """What the operator reads in the status: what failed, what is used instead, what next."""
        used = (
            f"the settings read on {kept.read_at:%Y-%m-%d %H:%M} UTC are used meanwhile"
            if kept is not None and kept.read_at is not None
            else "none were read before, so invoices cannot be written the company's way yet"
        )
        return (
            f"The company's settings (country, sales tax, currencies) could not be read from "
            f"QuickBooks at {self.occasion} ({self.error}); {used}. Run `appliance import "
            "accounts` to read them again."
        )


class BooksReader:
    def __init__(self, store: Store, qbo: QboClient) -> None:
        self.store = store
        self.qbo = qbo
        self.problem: BooksProblem | None = None

    async def read(
        self, realm_id: str, occasion: str, company_info: dict[str, Any] | None = None
    ) -> Books | None:
        """Read and store the company's books (``company_info`` when the caller has just read
        it); None when QuickBooks could not be read, the books stored before being kept."""
        try:
            info = (
                company_info if company_info is not None else await self.qbo.company_info(realm_id)
            )
            preferences = await self.qbo.preferences(realm_id)
            books = books_from(realm_id, info, preferences)
        except (QboError, AttributeError, KeyError, TypeError, ValueError) as exc:
            error = str(exc) if isinstance(exc, QboError) else "an answer of an unexpected shape"
            self.problem = BooksProblem(realm_id, utcnow(), occasion, error)
            log.warning("books.read_failed", realm_id=realm_id, occasion=occasion, error=error)
            return None
        await asyncio.to_thread(save_books, self.store.engine, books)
        if self.problem is not None and self.problem.realm_id == realm_id:
            self.problem = None
        log.info(
            "books.read",
            realm_id=realm_id,
            occasion=occasion,
            country=books.country,
            tax_model=books.tax_model.value,
            home_currency=books.home_currency,
            multicurrency=books.multicurrency,
        )
        return books

    def stored(self, realm_id: str) -> Books | None:
        return get_books(self.store.engine, realm_id)

    def warning(self, realm_id: str) -> str | None:
        """The status's sentence for a failed last read of this company's books, if it failed."""
        problem = self.problem
        if problem is None or problem.realm_id != realm_id:
            return None
        return problem.sentence(self.stored(realm_id))
