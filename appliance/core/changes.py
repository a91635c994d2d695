"""The change feed in words, for `appliance status` and the console's Status screen alike."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

#: A gap is mentioned for this long after the feed found it.
GAP_SHOWN = timedelta(days=30)
#: The plural of each kind, as an office manager says it.
PLURALS = {"invoice": "invoices", "payment": "payments", "customer": "customers"}


class FeedInfo(msgspec.Struct, kw_only=True):
    """The change feed: its last poll, its error, the last gap longer than Change Data Capture's
    30 days, and how many records of each kind changed in QuickBooks in the last day."""

    last_polled_at: datetime | None
    read_until: datetime | None
    last_error: str | None
    gap_at: datetime | None
    changed_last_day: dict[str, int] = msgspec.field(default_factory=dict)


def changed_sentence(counts: dict[str, int]) -> str:
    """``2 invoices and 1 customer changed in QuickBooks since yesterday.``"""
    parts = [
        f"{n} {kind if n == 1 else PLURALS.get(kind, kind + 's')}"
        for kind, n in sorted(counts.items())
        if n
    ]
    if not parts:
        return "Nothing JobRoutr wrote changed in QuickBooks since yesterday."
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f"{listed} changed in QuickBooks since yesterday (GET /api/v1/changes)."


def feed_lines(feed: FeedInfo, now: datetime) -> list[str]:
    """The changes sentence, then the feed's last poll, its error and a recent gap, if any."""
    lines = [changed_sentence(feed.changed_last_day)]
    if feed.last_polled_at is None:
        lines.append("QuickBooks' changes have not been read yet.")
    else:
        lines.append(f"QuickBooks' changes last read {feed.last_polled_at:%Y-%m-%d %H:%M} UTC.")
    if feed.last_error:
        lines.append(
            f"The last read of QuickBooks' changes failed: {feed.last_error} "
            "(it is tried again at the next poll)."
        )
    if feed.gap_at is not None and now - feed.gap_at < GAP_SHOWN:
        lines.append(
            f"On {feed.gap_at:%Y-%m-%d} the appliance had been off longer than QuickBooks keeps "
            "changes (30 days): every linked record was read again instead; changes from then "
            "show with the time QuickBooks last changed each record."
        )
    return lines
