"""How `appliance events review` prints a question for the operator: the JobRoutr record and the
QuickBooks candidate in two columns (``core.review_view``), why it asks, the name a new record
would get, and the commands that answer; and what a decision did."""

from __future__ import annotations

import shutil
import textwrap

import click

from appliance.core.admin import EventInfo, EventList
from appliance.core.review import CREATE, LINK, ReviewCase
from appliance.core.review_view import commands, rows

LABEL_WIDTH = 16
MARK = "*"


def _column_width() -> int:
    """Each side's width: half of what the terminal leaves after the label (at least 20)."""
    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    return max((width - LABEL_WIDTH - 8) // 2, 20)


def side_by_side(case: ReviewCase) -> list[str]:
    """The two records, a field a row (long values wrapped), the differing ones marked."""
    width = _column_width()
    header = f"    {'':<{LABEL_WIDTH}}{'JobRoutr':<{width}}  QuickBooks"
    lines = [click.style(header.rstrip(), bold=True)]
    for row in rows(case):
        ours = textwrap.wrap(row.jobroutr, width) or [""]
        theirs = textwrap.wrap(row.candidate, width) or [""]
        mark = click.style(MARK, fg="yellow", bold=True) if row.differs else " "
        for n in range(max(len(ours), len(theirs))):
            label = row.label if n == 0 else ""
            left = ours[n] if n < len(ours) else ""
            right = theirs[n] if n < len(theirs) else ""
            text = f"{label:<{LABEL_WIDTH}}{left:<{width}}  {right}".rstrip()
            lines.append(f"  {mark if n == 0 else ' '} {text}")
    if case.candidate is None:
        lines.append("    (no QuickBooks record to compare)")
    elif any(row.differs for row in rows(case)):
        lines.append(f"  {MARK} the two records differ in this field")
    return lines


def print_case(info: EventInfo) -> None:
    """One event in review: what it is, why it asks, both records, and how to answer."""
    case = info.review
    record = " ".join(p for p in (info.record_kind, info.record_id) if p) or "-"
    click.secho(f"Event {info.event_id} ({info.type}, {record}): in review", bold=True)
    if case is None:
        click.echo("  Its question cannot be read; retry it to have it asked again.")
        return
    click.echo(f"  {case.message}")
    click.echo()
    for line in side_by_side(case):
        click.echo(line)
    click.echo()
    if case.create_as and CREATE in case.choices:
        click.echo(f"  A new record would be named: {click.style(case.create_as, bold=True)}")
    click.echo("  Answer with one of:")
    answers = commands(info.event_id, case)
    width = max((len(command) for command, _ in answers), default=0)
    for command, words in answers:
        click.echo(f"    {command:<{width}}  {words}")
    if LINK in case.choices:
        click.echo(
            f"  (--link --qbo-id ID links to another QuickBooks {case.kind} than the one shown.)"
        )


def print_review(found: EventList) -> None:
    """Every event in review, one after the other."""
    if not found.items:
        click.echo("No events wait for your decision.")
        return
    waiting = found.counts.get("review", len(found.items))
    noun = "event waits" if waiting == 1 else "events wait"
    click.secho(f"{waiting} {noun} for your decision; nothing is written until you decide.")
    for info in found.items:
        click.echo()
        print_case(info)
    if found.next_before:
        click.echo(f"\nOlder ones: `appliance events --status review --before {found.next_before}`")


def print_decided(info: EventInfo) -> None:
    """What the decision did, and what happens next."""
    decision = info.decision
    if decision is None:  # not expected: the service answers with the decision kept
        click.echo(f"Event {info.event_id} is {info.status}.")
        return
    kind = info.review.kind if info.review else (info.record_kind or "record")
    if decision.action == LINK:
        done = f"linked to QuickBooks {kind} {decision.qbo_id}"
    elif decision.action == CREATE:
        done = f"a new QuickBooks {kind} will be created as {decision.name!r}"
    else:
        done = "skipped: it is never written to QuickBooks (ignored)"
    click.echo(f"Event {info.event_id}: {done}.")
    if info.status == "queued":
        click.echo(
            f"It goes to QuickBooks again now; `appliance events show {info.event_id}` tells "
            "how it ended."
        )
