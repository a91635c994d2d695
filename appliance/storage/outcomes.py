"""How a push job ended, as a type: what the worker settled and ``storage.push.complete`` records.

``Done | Mismatch | Review | Waiting | RetryLater | Failed``, one class each with what that state
needs (as arq's ``Retry(defer=...)`` carries its delay): a job is settled once, by the worker,
and the store writes what the type says, so no combination of keyword arguments can ask for a
state that makes no sense.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from appliance.core.states import JobState
from appliance.storage.mirror import MirrorRow


@dataclass(frozen=True)
class Failure:
    """QuickBooks' code (or one of ours: ``transient``, ``gave-up``...), a sentence, a hint."""

    code: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class LinkWrite:
    """The JobRoutr record and the QBO record it was written to, with the version it carries."""

    kind: str
    jobroutr_id: str
    qbo_id: str
    source_timestamp: datetime | None
    source_event_id: str


@dataclass(frozen=True)
class Done:
    """Written (or found written): the QBO id, the link, the record as QBO answered (mirror)."""

    state: ClassVar[JobState] = JobState.DONE
    realm_id: str | None = None
    qbo_id: str | None = None
    link: LinkWrite | None = None
    mirror: tuple[str, MirrorRow] | None = None
    #: What QuickBooks holds, as read back after the write (invoices): kept on the link.
    figures: dict[str, Any] | None = None


@dataclass(frozen=True)
class Mismatch:
    """Written, but QuickBooks' totals differ from the bill: the link is written (the record IS
    in QuickBooks, never to be written twice) with QBO's ``figures``; ``details`` are both
    sides' totals, ``{"qbo": {"total", "tax"}, "jobroutr": {"total", "tax"}}``, decimal strings.
    Finished (a later event of the record goes on), until the operator accepts or retries it."""

    state: ClassVar[JobState] = JobState.MISMATCH
    realm_id: str
    qbo_id: str
    details: dict[str, Any]
    link: LinkWrite | None = None  # None: the record's link is there already
    figures: dict[str, Any] | None = None
    mirror: tuple[str, MirrorRow] | None = None


@dataclass(frozen=True)
class Review:
    """A question for the operator (``core.review.ReviewCase``, as builtins in ``case``): nothing
    was written; the job waits in ``review`` until they decide (``storage.review.decide``), and a
    later job of the same record waits behind it."""

    state: ClassVar[JobState] = JobState.REVIEW
    realm_id: str
    case: dict[str, Any]


@dataclass(frozen=True)
class Waiting:
    """Cannot go on yet: waits for ``waiting_for``, woken when one of ``waits_on`` changes
    (``customer:<id>``, ``settings:accounts``, ``connection``), looked at again at ``run_after``."""

    state: ClassVar[JobState] = JobState.WAITING
    waiting_for: str
    run_after: datetime
    waits_on: tuple[str, ...] = ()
    realm_id: str | None = None
    waited_seconds: float | None = None


@dataclass(frozen=True)
class RetryLater:
    """Queued again at ``run_after``: a transient failure (kept as the last error), a full disk,
    or a stop of the service (no failure)."""

    state: ClassVar[JobState] = JobState.QUEUED
    run_after: datetime
    failure: Failure | None = None
    realm_id: str | None = None


@dataclass(frozen=True)
class Failed:
    """For good, until the operator retries or skips it."""

    state: ClassVar[JobState] = JobState.FAILED
    failure: Failure
    realm_id: str | None = None


JobOutcome = Done | Mismatch | Review | Waiting | RetryLater | Failed
