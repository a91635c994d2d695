"""How a question for the operator (``core.review.ReviewCase``) is shown, the same in the CLI and
the console: the JobRoutr record and the QuickBooks candidate side by side, one row a field (in
the order of ``core.review.LABELS``, the fields differing marked), and the commands that answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.core.review import ACTIONS, CREATE, LABELS, LINK, SKIP, ReviewCase

#: What each choice is called on the operator's keys and in the confirmation.
ACTION_WORDS = {LINK: "link", CREATE: "create new", SKIP: "skip"}


@dataclass(frozen=True)
class Row:
    """One field of both records: its label, each side's text ("" when a side has none), and
    whether they differ (compared ignoring case and surrounding space)."""

    label: str
    jobroutr: str
    candidate: str
    differs: bool


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def rows(case: ReviewCase) -> list[Row]:
    """The fields either side has, in the order of ``LABELS``. The QuickBooks id is only the
    candidate's, so it is never marked as differing."""
    candidate = case.candidate or {}
    out = []
    for field, label in LABELS.items():
        ours, theirs = case.jobroutr.get(field, ""), candidate.get(field, "")
        if not ours and not theirs:
            continue
        differs = field != "qbo_id" and bool(candidate) and not _same(ours, theirs)
        out.append(Row(label, ours, theirs, differs))
    return out


def commands(event_id: str, case: ReviewCase) -> list[tuple[str, str]]:
    """The commands that answer the case (link, create, skip, as offered), each with what it
    does (the case's own words)."""
    flags = {LINK: "--link", CREATE: "--create", SKIP: "--skip"}
    return [
        (f"appliance events review {event_id} {flags[action]}", case.choices[action])
        for action in ACTIONS
        if action in case.choices
    ]


def consequence(action: str, case: ReviewCase) -> str:
    """What deciding ``action`` will do, in a sentence (the console's confirmation)."""
    if action == LINK:
        target = case.candidate_id or "?"
        name = (case.candidate or {}).get("name", "")
        return (
            f"Link this {case.kind} to QuickBooks' {name or case.kind} (id {target}): "
            "JobRoutr's record is written over it."
        )
    if action == CREATE:
        return f"Create a new QuickBooks {case.kind} named {case.create_as!r}."
    return "Skip this event: nothing is written to QuickBooks, it ends ignored."
