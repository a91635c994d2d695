"""What an attempt at a job means for the job, decided in one place (as procrastinate's
``retry.py`` turns an attempt into a ``RetryDecision``): ``Done`` (or ``Mismatch``, written but
with QuickBooks' totals not the bill's), ``Review`` (a question for the operator, nothing
written), ``Waiting`` (for a customer or
product link, default accounts, or a working connection) re-checked until it can go on,
``RetryLater`` after a transient failure, with back-off, until ``give_up_after``, or ``Failed``
with QBO's code, a sentence and a hint, until the operator retries or skips it.

The record kinds say what stops them by raising ``Wait``, ``Ask`` or ``Refused`` (or by letting a
QBO error through); ``Settler.failed`` is the one place that turns any of those into an outcome.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from appliance.core.review import ReviewCase
from appliance.logging import get_logger
from appliance.qbo.errors import (
    AuthenticationError,
    AuthorizationError,
    CompanyStatusError,
    OAuthError,
    QboError,
    TransientError,
)
from appliance.storage import push as jobs
from appliance.storage.health import StoreHealth, Trouble, trouble
from appliance.storage.outcomes import (
    Done,
    Failed,
    Failure,
    JobOutcome,
    Mismatch,
    RetryLater,
    Review,
    Waiting,
)
from appliance.sync.push.job import PushConfig, Written

log = get_logger(__name__)
CONNECTION_WAIT = timedelta(seconds=60)
#: Events received before any company was connected wait for `appliance connect`, which wakes
#: them at once (and so does every start of the service); the recheck is only a safety net.
#: Rechecking every minute rewrote every parked job each minute: with thousands waiting, a
#: write-lock stall every few seconds for intake's commits (its p99 at 200/s: 80 ms, not 30).
NEVER_CONNECTED_WAIT = timedelta(minutes=15)
NOT_CONNECTED = "a QuickBooks connection: run `appliance connect`"
#: A job that met a full disk or a damaged store tries again after this (not failed: the event
#: is fine, the store is not).
STORE_RETRY = timedelta(seconds=60)

#: What QuickBooks' codes mean, in words an office manager understands.
SAYS = {
    "6240": "another customer, vendor or employee in QuickBooks already has this name",
    "6140": "another invoice in QuickBooks already has this number",
    "610": "a record it refers to was deleted or made inactive in QuickBooks",
    "2500": "an account or record it names does not exist in QuickBooks",
    "6000": "QuickBooks did not accept some of its values",
    "6070": "a line's amount is not its quantity times its price",
}
#: Hints for QuickBooks' codes, in words an office manager can act on.
HINTS = {
    "6240": "Rename the customer in JobRoutr (or the vendor/employee in QuickBooks), then retry "
    "the event with `appliance events retry ID`.",
    "6140": "Give the invoice another number in JobRoutr, or rename the invoice that holds the "
    "number in QuickBooks, then retry the event.",
    "610": "The record it refers to was deleted or made inactive in QuickBooks: make it active "
    "again in QuickBooks, then retry the event.",
    "product-archived": "Re-activate the product in JobRoutr (JobRoutr then sends it again and "
    "its item is made active), then retry the invoice (`appliance events retry ID`).",
    "2500": "The account or record it names does not exist in QuickBooks: check the product's "
    "accounts and the default accounts (`appliance settings`), then retry the event.",
    "6000": "QuickBooks refused the values: correct the record in JobRoutr (it will send it "
    "again) or retry the event once QuickBooks accepts it.",
    "6070": "A line's amount does not match quantity x price: report this to support.",
    # Invoices the company cannot hold as billed (sync/push/invoice/company.py): refused before
    # anything is written.
    "tax-rates": "Map these JobRoutr tax rates to one combined (group) tax code in QuickBooks "
    "(`appliance taxes map`, or the console's Taxes screen), or bill the invoice with one rate "
    "in JobRoutr, then retry the event.",
    "tax-inclusive": "Bill the invoice with tax added to the lines (exclusive) in JobRoutr; it "
    "will send the invoice again.",
    "tax-off": "Turn sales tax on in QuickBooks (Taxes > Sales tax), run `appliance import "
    "accounts` so the appliance reads the company's settings again, then retry the event.",
    "discount-off": "Turn discounts on in QuickBooks (Settings > Account and settings > Sales "
    "> Discount), run `appliance import accounts` so the appliance reads the company's settings "
    "again, then retry the event.",
    "currency-off": "Bill the customer in the home currency in JobRoutr, or turn multi-currency "
    "on in QuickBooks (it cannot be turned off again) and run `appliance import accounts` so the "
    "appliance reads the company's settings again; then retry the event.",
    "currency-customer": "Bill the invoice in the customer's currency in JobRoutr (it will send "
    "it again), or invoice a customer kept in this currency.",
    "exchange-rate": "Give the invoice an exchange rate in JobRoutr; it will send it again.",
    "6540": "The payment was deposited in QuickBooks, so it can no longer be changed: undo the "
    "deposit in QuickBooks (Banking > the deposit > remove the payment), then retry the event; "
    "or change the payment in QuickBooks by hand and skip the event (`appliance events skip ID`).",
    "open-balance": "Receive the payment or write off the balance in QuickBooks, or keep the "
    "customer active in JobRoutr (it will send it again); then retry the event with "
    "`appliance events retry ID`.",
    "voided": "A voided invoice stays voided: create a new invoice in JobRoutr for the new "
    "figures, or skip the event (`appliance events skip ID`).",
}
NEVER_ARRIVED_HINT = (
    "Check that record's event (`appliance events --status failed`), fix and retry it, then "
    "retry this one."
)


class Wait(Exception):
    """The job cannot go on yet: it waits for what ``reason`` says. It is woken when one of
    ``waits_on`` changes (``customer:<id>``, ``settings:accounts``, ...), and looks again at
    ``recheck`` in any case. With ``give_up_after``, it fails once it has waited that long while
    the service ran (see :meth:`Settler.waited`)."""

    def __init__(
        self,
        reason: str,
        recheck: timedelta,
        *,
        waits_on: list[str],
        give_up_after: timedelta | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.recheck = recheck
        self.waits_on = waits_on
        self.give_up_after = give_up_after


class Refused(Exception):
    """A permanent failure found by the worker itself (not a QBO error)."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.failure = Failure(code, message, hint)


class Ask(Exception):
    """The record cannot be written without the operator's word (``core.review``): the job is
    parked in ``review`` with the case, and nothing is written until they decide."""

    def __init__(self, case: ReviewCase) -> None:
        super().__init__(case.message)
        self.case = case


class LeaseLost(Exception):
    """Another worker holds the job now: stop without writing anything more."""


def _store_trouble(kind: Trouble) -> str:
    if kind == "damaged":
        return "The store is damaged: tried again once it is restored."
    if kind == "unreachable":
        return "The database server did not answer: tried again once it does."
    return "The store's disk is full or failing: tried again once it takes writes."


def not_connected(now: datetime) -> Waiting:
    """No company was ever connected: wait for `appliance connect` (no realm to name)."""
    return Waiting(NOT_CONNECTED, now + NEVER_CONNECTED_WAIT, ("connection",))


def _reconnect(exc: QboError, realm: str, now: datetime) -> Waiting | None:
    """The connection needs the operator (reconnect) or QuickBooks refuses writes for now."""
    if isinstance(exc, (OAuthError, AuthenticationError)):
        reason = (
            f"a working QuickBooks connection ({exc.message}): reconnect with `appliance connect`"
        )
    elif isinstance(exc, (CompanyStatusError, AuthorizationError)):
        reason = f"QuickBooks to accept writes again ({exc}). {exc.hint}".strip()
    else:
        return None
    return Waiting(reason, now + CONNECTION_WAIT, ("connection",), realm_id=realm)


def _refused(exc: QboError, realm: str, event_id: str | None) -> Failed:
    code = exc.qbo_code or (str(exc.status) if exc.status else "qbo")
    log.info("push.refused", event_id=event_id, code=code, error=str(exc))
    failure = Failure(code, refusal(exc, code), exc.hint or HINTS.get(code, ""))
    return Failed(failure, realm_id=realm)


def refusal(exc: QboError, code: str) -> str:
    """QuickBooks' refusal in one sentence: in plain words where its code is known, with what
    QuickBooks named (its message and detail said once, not twice); the code is the failure's
    own field, shown beside it, so it is not in the sentence again."""
    message = exc.message.strip().rstrip(".")
    detail = (exc.detail or "").strip().rstrip(".")
    if detail.lower() in ("", "null", message.lower()):
        detail = ""
    elif detail.startswith(message):  # "Invalid Reference Id : IncomeAccountRef ... not found"
        detail = detail[len(message) :].lstrip(" :")
    plain = SAYS.get(code)
    if plain:
        return f"QuickBooks refused it: {plain}" + (f" ({detail})." if detail else ".")
    return f"QuickBooks refused it: {message}" + (f": {detail}." if detail else ".")


def _crashed(exc: Exception, realm: str, event_id: str | None) -> Failed:
    log.error("push.crashed", event_id=event_id, exc_info=exc)
    failure = Failure(
        "internal",
        f"The appliance stopped on an internal error ({type(exc).__name__}).",
        "Retry the event; if it fails again, the service log has the details.",
    )
    return Failed(failure, realm_id=realm)


class Settler:
    """Settles the attempts of one service process's workers. It keeps when this process last
    parked each waiting job, by the monotonic clock, to time how long a job has waited."""

    def __init__(
        self, config: PushConfig, health: StoreHealth, monotonic: Callable[[], float]
    ) -> None:
        self.config = config
        self.health = health
        self.monotonic = monotonic
        self._parked_at: dict[int, float] = {}  # job id: when this process last parked it
        self._random = random.Random()  # noqa: S311 - jitter, not secrets

    def done(self, work: jobs.Work, realm: str, written: Written) -> Done | Mismatch:
        """Written: ``Done``, or ``Mismatch`` when QuickBooks' totals differ from the bill (the
        record is in QuickBooks all the same: its link is written, it is never written twice)."""
        self._parked_at.pop(work.claim.job_id, None)
        if written.mismatch is not None:
            log.warning(
                "push.mismatched",
                event_id=work.claim.event_id,
                type=work.event_type,
                qbo_id=written.qbo_id,
                qbo=written.mismatch.get("qbo"),
                jobroutr=written.mismatch.get("jobroutr"),
            )
            return Mismatch(
                realm,
                written.qbo_id,
                dict(written.mismatch),
                link=written.link,
                figures=written.figures,
                mirror=written.mirror,
            )
        log.info(
            "push.applied",
            event_id=work.claim.event_id,
            type=work.event_type,
            qbo_id=written.qbo_id,
            note=written.note or None,
        )
        # No QBO id: nothing was written (a void for an invoice that never reached QuickBooks).
        qbo_id = written.qbo_id or None
        return Done(realm, qbo_id, written.link, written.mirror, written.figures)

    def failed(self, work: jobs.Work, realm: str, exc: Exception, now: datetime) -> JobOutcome:
        """What a failed attempt means for the job: wait, try again later, or fail for good."""
        if isinstance(exc, Wait):
            return self._wait(work, realm, exc, now)
        self._parked_at.pop(work.claim.job_id, None)  # a later wait is timed afresh
        if isinstance(exc, (Refused, Ask)):
            return self._stopped(work, realm, exc)
        if isinstance(exc, QboError) and (waiting := _reconnect(exc, realm, now)) is not None:
            return waiting
        if isinstance(exc, TransientError):
            return self._transient(work, realm, exc, now)
        if (kind := trouble(exc)) is not None:
            # The store, not the event: a full disk, a damaged file, a server that is down. Try
            # again later (if the store cannot even record that, the lease runs out and the job
            # comes back anyway).
            self.health.failed(kind, exc)
            failure = Failure("store", _store_trouble(kind))
            return RetryLater(now + STORE_RETRY, failure, realm_id=realm)
        # QuickBooks refused it for good, or the appliance failed on its own.
        event_id = work.claim.event_id
        return (
            _refused(exc, realm, event_id)
            if isinstance(exc, QboError)
            else _crashed(exc, realm, event_id)
        )

    def _stopped(self, work: jobs.Work, realm: str, exc: Refused | Ask) -> Failed | Review:
        """Stopped by the record kind itself: refused for good, or a question for the operator."""
        if isinstance(exc, Refused):
            return Failed(exc.failure, realm_id=realm)
        log.info(
            "push.review",
            event_id=work.claim.event_id,
            reason=exc.case.reason,
            candidate=exc.case.candidate_id,
        )
        return Review(realm, exc.case.to_builtins())

    def _wait(self, work: jobs.Work, realm: str, exc: Wait, now: datetime) -> JobOutcome:
        waited = self.waited(work)
        if exc.give_up_after is not None and waited >= exc.give_up_after.total_seconds():
            self._parked_at.pop(work.claim.job_id, None)
            failure = Failure(
                "never-arrived", f"Gave up waiting for {exc.reason}.", NEVER_ARRIVED_HINT
            )
            return Failed(failure, realm_id=realm)
        recheck = exc.recheck
        if exc.give_up_after is not None:  # look again by the time it would give up
            left = exc.give_up_after - timedelta(seconds=waited)
            recheck = min(recheck, max(left, timedelta(0)))
        return Waiting(
            exc.reason,
            now + recheck,
            tuple(exc.waits_on),
            realm_id=realm,
            waited_seconds=waited,
        )

    def _transient(
        self, work: jobs.Work, realm: str, exc: TransientError, now: datetime
    ) -> JobOutcome:
        """Again later, with back-off and jitter, until the event is ``give_up_after`` old."""
        claim = work.claim
        if now - work.received_at >= self.config.give_up_after:
            failure = Failure(
                "gave-up",
                f"QuickBooks could not be reached for too long; the last error: {exc}.",
                "Retry the event when QuickBooks works again; it will not be written twice.",
            )
            return Failed(failure, realm_id=realm)
        backoff = self.config.retry_base * min(2 ** max(claim.attempts - 1, 0), 32)
        backoff *= 0.5 + self._random.random() / 2
        log.info("push.retry_later", event_id=claim.event_id, error=str(exc))
        return RetryLater(now + backoff, Failure("transient", str(exc)), realm_id=realm)

    def waited(self, work: jobs.Work) -> float:
        """Seconds the job has waited while the service ran: what earlier looks stored, plus the
        time since this process last parked it, by the monotonic clock. The wall clock plays no
        part, so setting it (NTP's first sync, an operator's ``date``) neither gives up early
        nor, set back, makes a wait longer than it was; time the service was stopped does not
        count (the first look after a start adds nothing), so a wait only ever runs late."""
        now = self.monotonic()
        last = self._parked_at.get(work.claim.job_id)
        self._parked_at[work.claim.job_id] = now
        return work.waited + (max(now - last, 0.0) if last is not None else 0.0)
