"""The company's books for a push (``core.books.Books``): as stored at connect, or read from
QuickBooks (and stored) when they are not, so no record is written on a guess. Shared by the
customer, invoice and payment pushes."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import Engine

from appliance.core.books import Books, books_from
from appliance.storage.books import get_books, save_books
from appliance.sync.push.job import PushJob

_BOOKS_SAVED = threading.Lock()


async def company_books(job: PushJob) -> Books:
    """The company's books as stored at connect; read from QuickBooks (and stored) when they
    are not, so an invoice is never written on a guess."""
    engine = job.store.engine
    books = await asyncio.to_thread(get_books, engine, job.realm)
    if books is not None:
        return books
    info = await job.qbo.company_info(job.realm)
    preferences = (await job.qbo.request(job.realm, "GET", "preferences")).get("Preferences")
    books = books_from(job.realm, info, preferences if isinstance(preferences, dict) else {})
    return await asyncio.to_thread(_save_once, engine, books)


def _save_once(engine: Engine, books: Books) -> Books:
    """Store the books unless another worker of this process just did (two invoices pushed at
    once both find none): the first stored wins, and both go on with it."""
    with _BOOKS_SAVED:
        stored = get_books(engine, books.realm_id)
        if stored is not None:
            return stored
        save_books(engine, books)
        return books
