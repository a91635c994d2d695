"""Intuit's per-company limits kept by every instance on one PostgreSQL database together.

Several ``appliance serve`` on one store call QuickBooks for the same company, and Intuit counts
their calls together: 10 at once, 500 a minute, 120 batch calls a minute (FACTS §8, §5). Each
instance holds **grants**, rows of ``qbo_grant``: a share of calls, batch calls and slots (calls
at once) it may use, asked for in chunks (a twentieth of the minute's budget), so one instance
makes one round trip to the database for many calls, not one per call, and stays as fast as
before. A grant is open a few seconds; then the instance closes it, writing down the calls it
really made: those count against the company until a minute after the close (every call of the
grant started after it was granted and was answered before it was closed, so whatever moment
QuickBooks counts a call at, a minute window of Intuit's never holds more calls than the grants
counted at the moment the last of them was granted: never more than the limit). An instance
killed with its grant open holds it until ``open_until`` (then its calls count a minute more).

Why grants (leases with expiry) rather than the alternatives:

- a shared minute counter per time slice (fixed windows) lets 500 calls at the end of one slice
  and 500 at the start of the next fall in one of Intuit's sliding minutes: 429s;
- advisory locks hold a database session per call in flight and cannot count a minute after a
  call; one of them (a transaction lock) only serialises the grants of one company here;
- grants cost one short transaction per chunk, survive a killed instance (they expire), and
  share fairly: an instance gets at most its part of the slots while others hold grants open.

SQLite serves one instance (the store lock of the hardening issue), which keeps the limits in
its own process (``qbo/limiter.py``): this module is only used on PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine

#: A minute after a grant's close its calls stop counting (Intuit's window).
WINDOW_SECONDS = 60

_TOTALS = text(
    """
    SELECT coalesce(sum(calls), 0), coalesce(sum(batch_calls), 0),
           coalesce(sum(slots) FILTER (WHERE open_until > now()), 0),
           count(DISTINCT instance) FILTER (WHERE instance <> :instance AND open_until > now()),
           extract(epoch FROM min(counts_until) - now())
    FROM qbo_grant WHERE realm_id = :realm AND counts_until > now()
    """
)
_GRANT = text(
    """
    INSERT INTO qbo_grant (realm_id, instance, calls, batch_calls, slots, granted_at, open_until,
                           counts_until)
    VALUES (:realm, :instance, :calls, :batch, :slots, now(), now() + make_interval(secs => :hold),
            now() + make_interval(secs => :hold + :window))
    RETURNING id
    """
)
_CLOSE = text(
    """
    UPDATE qbo_grant SET calls = :calls, batch_calls = :batch, slots = 0, open_until = now(),
           counts_until = now() + make_interval(secs => :window)
    WHERE id = :id
    """
)
_FORGET = text("DELETE FROM qbo_grant WHERE realm_id = :realm AND counts_until < now()")


@dataclass(frozen=True)
class Grant:
    """What one instance may use: calls (of which ``batch`` batch calls) and calls at once."""

    id: int
    calls: int
    batch: int
    slots: int


@dataclass(frozen=True)
class Limits:
    concurrent: int
    per_minute: int
    batch_per_minute: int


@dataclass(frozen=True)
class _Totals:
    calls: int
    batch: int
    slots: int
    others: int
    next_free: float | None


class StoreGrants:
    """Grants of one instance (``instance``) from the shared ``qbo_grant`` table.

    ``hold`` is how long the database keeps an open grant for an instance that stops answering:
    the instance's own grant time plus its longest call, so no call outlives its grant."""

    def __init__(self, engine: Engine, instance: str, limits: Limits, hold: float) -> None:
        self.engine = engine
        self.instance = instance
        self.limits = limits
        self.hold = hold

    def request(self, realm_id: str, calls: int, batch: int, slots: int) -> Grant | float:
        """A grant of at most what is asked, or how long to wait before asking again."""
        limits = self.limits
        with self.engine.begin() as connection:
            # One company's grants are decided one at a time (the lock ends with the transaction).
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"jobroutr-qbo-limits:{realm_id}"},
            )
            row = connection.execute(_TOTALS, {"realm": realm_id, "instance": self.instance}).one()
            used = _Totals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4])
            share = math.ceil(limits.concurrent / (used.others + 1))
            given_slots = min(slots, limits.concurrent - used.slots, share)
            given_calls = min(calls, limits.per_minute - used.calls)
            given_batch = max(0, min(batch, limits.batch_per_minute - used.batch, given_calls))
            if given_slots <= 0 or given_calls <= 0:
                if given_calls <= 0 and used.next_free is not None:
                    return max(0.05, float(used.next_free))
                return 0.25  # a slot comes free when another grant closes, within seconds
            connection.execute(_FORGET, {"realm": realm_id})
            grant_id = connection.execute(
                _GRANT,
                {
                    "realm": realm_id,
                    "instance": self.instance,
                    "calls": given_calls,
                    "batch": given_batch,
                    "slots": given_slots,
                    "hold": self.hold,
                    "window": WINDOW_SECONDS,
                },
            ).scalar_one()
        return Grant(int(grant_id), given_calls, given_batch, given_slots)

    def close(self, grant: Grant, calls: int, batch: int) -> None:
        """The grant is done: only the calls made count, for a minute from now."""
        with self.engine.begin() as connection:
            connection.execute(
                _CLOSE, {"id": grant.id, "calls": calls, "batch": batch, "window": WINDOW_SECONDS}
            )
