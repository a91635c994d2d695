"""The states of a queued job and of a received event, each declared once.

``StrEnum``: a member is its stored text (``JobState.DONE == "done"``), so the store keeps the
values it always kept and a row read back compares equal to the member (no migration).
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job on the store's queue."""

    QUEUED = "queued"  # due at run_after (first try, or again after a transient failure)
    RUNNING = "running"  # a worker holds its lease
    WAITING = "waiting"  # for what waits_on names, looked at again at run_after
    DONE = "done"
    # Written, but QuickBooks' totals differ from the bill: until the operator accepts or retries
    MISMATCH = "mismatch"
    # A question for the operator (a QuickBooks record of the same name that nothing else
    # corroborates, a record made inactive in QuickBooks...): nothing is written until they
    # decide (``storage.review.decide``); a later job of the same record waits behind it
    REVIEW = "review"
    FAILED = "failed"  # until the operator retries or skips it


class EventStatus(StrEnum):
    """An event as the operator sees it: its job's state, or ``ignored`` (an unknown type, or
    skipped by the operator)."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    MISMATCH = "mismatch"
    REVIEW = "review"
    FAILED = "failed"
    IGNORED = "ignored"


#: A job not finished yet: a later job of the same record waits for it.
UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.WAITING, JobState.REVIEW)
#: What a worker may end a job with.
SETTLED = (
    JobState.DONE,
    JobState.MISMATCH,
    JobState.REVIEW,
    JobState.FAILED,
    JobState.QUEUED,
    JobState.WAITING,
)
