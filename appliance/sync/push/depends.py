"""What an invoice or a payment waits for when a record it names has not reached QuickBooks: in
words, and for how long. A record whose event waits in review for the operator's decision is
named as such, and the wait never gives up while it does (the operator, not time, ends it)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from appliance.storage import review
from appliance.sync.push.job import PushJob
from appliance.sync.push.outcome import Wait

REVIEW_WORDS = "waits for your decision: `appliance events review`"


async def waiting(
    job: PushJob, words: list[str], waits_on: list[str], recheck: timedelta, missing: list[str]
) -> Wait:
    """The ``Wait`` for ``words`` (one per record waited on, in ``waits_on``'s order); ``missing``:
    the record keys (``customer:<id>``) not in QuickBooks yet, looked up in review."""
    asking = set(await asyncio.to_thread(review.in_review, job.store.engine, missing))
    said = [
        f"{text} (its {key.split(':', 1)[0]} {REVIEW_WORDS})" if key in asking else text
        for text, key in zip(words, waits_on, strict=True)
    ]
    return Wait(
        " and ".join(said),
        recheck,
        waits_on=waits_on,
        give_up_after=None if asking else job.config.dependency_wait,
    )
