"""Review: the questions the push asks the operator (events in ``review``). A JobRoutr record the
push will not write on its own (a QuickBooks record of the same name that nothing else agrees
with, one made inactive in QuickBooks...): the list of them, and the selected one's JobRoutr record
and QuickBooks candidate side by side, why it asks and the name a new record would get. l links
it to the candidate, n creates a new record, s skips it, each after a confirmation that says
what will happen; nothing is written to QuickBooks until then. Reached from Status (v)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from appliance.core.admin import EventInfo
from appliance.core.review import CREATE, LINK, SKIP, ReviewCase
from appliance.core.review_view import consequence, rows
from appliance.tui.common import REFRESH_SECONDS, Confirm, ConsoleScreen, ago

WHY = {"name": "same name", "inactive": "inactive in QBO", "type": "other type"}


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def side_by_side(case: ReviewCase) -> Table:
    """Both records, a field a row; the fields that differ marked (*) and in yellow."""
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=True)
    table.add_column("", width=1, no_wrap=True)
    table.add_column("", style="bold", width=15, no_wrap=True)
    table.add_column("JobRoutr", ratio=1, overflow="fold")
    table.add_column("QuickBooks", ratio=1, overflow="fold")
    for row in rows(case):
        style = "yellow" if row.differs else None
        table.add_row(
            "*" if row.differs else "", row.label, row.jobroutr, row.candidate, style=style
        )
    return table


def done_notice(info: EventInfo) -> str:
    """What a decision did, as the notice after it says."""
    decision = info.decision
    kind = info.review.kind if info.review else "record"
    if decision is None:
        return f"{info.event_id} is {info.status}."
    if decision.action == LINK:
        return f"{info.event_id}: linked to QuickBooks {kind} {decision.qbo_id}; pushing it now."
    if decision.action == CREATE:
        return f"{info.event_id}: a new {kind} {decision.name!r} is being created."
    return f"{info.event_id} skipped: never written to QuickBooks."


class ReviewScreen(ConsoleScreen):
    """The events in review, the selected one's question, and the keys that answer it."""

    mode = "review"
    refresh_every = REFRESH_SECONDS
    BINDINGS = [  # noqa: RUF012 - Textual reads it from the class
        Binding("l", "decide('link')", "Link"),
        Binding("n", "decide('create')", "Create new"),
        Binding("s", "decide('skip')", "Skip"),
        Binding("escape", "app.switch_mode('status')", "Back to Status"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.events: list[EventInfo] = []

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(id="review-title")
            yield DataTable(id="review-list", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="review-scroll"):
                yield Static(id="review-case")

    def on_mount(self) -> None:
        table = self.query_one("#review-list", DataTable)
        table.add_columns("Received", "Kind", "Record", "Name", "Why", "Event")

    async def fill(self) -> None:
        found = await self.api.events(status="review", limit=100)
        self.events = found.items
        waiting = found.counts.get("review", len(found.items))
        title = (
            f"[b]Questions for you[/b]: {waiting} in review. Nothing is written until you decide."
            if found.items
            else "[b]Questions for you[/b]: none. The push asks here before it writes a "
            "record it is not sure of."
        )
        self.query_one("#review-title", Static).update(title)
        table = self.query_one("#review-list", DataTable)
        row = table.cursor_row
        table.clear()
        for event in found.items:
            case = event.review
            table.add_row(
                ago(event.received_at),
                event.record_kind or "-",
                short(event.record_id or "", 14),
                short(case.jobroutr.get("name", "") if case else "", 20),
                WHY.get(case.reason, case.reason) if case else "?",
                short(event.event_id, 14),
                key=event.event_id,
            )
        if found.items:
            table.move_cursor(row=min(row, len(found.items) - 1))
        self.show_case()

    def selected(self) -> EventInfo | None:
        table = self.query_one("#review-list", DataTable)
        if not self.events or table.cursor_row >= len(self.events):
            return None
        return self.events[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def show_case(self) -> None:
        event = self.selected()
        shown = self.query_one("#review-case", Static)
        if event is None:
            shown.update("Nothing waits for you.")
            return
        case = event.review
        if case is None:
            shown.update(f"{event.event_id}: its question cannot be read; retry it from Status.")
            return
        parts: list[Text | Table] = [
            Text(f"{event.event_id}: {case.message}"),
            side_by_side(case),
        ]
        if case.create_as and CREATE in case.choices:
            parts.append(Text.assemble("New record would be named: ", (case.create_as, "bold")))
        keys = {LINK: "l link", CREATE: "n create new", SKIP: "s skip"}
        parts.append(Text(" - ".join(keys[a] for a in (LINK, CREATE, SKIP) if a in case.choices)))
        shown.update(Group(*parts))

    @work(group="act")
    async def action_decide(self, action: str) -> None:
        event = self.selected()
        if event is None or event.review is None:
            self.app.notify("Choose an event in review first.", severity="warning")
            return
        case = event.review
        if action not in case.choices:
            offered = ", ".join(case.choices) or "none"
            self.app.notify(
                f"This question does not offer {action} (it offers {offered}).",
                severity="warning",
            )
            return
        question = f"{event.event_id}: {consequence(action, case)}\n\nGo ahead?"
        if await self.app.push_screen_wait(Confirm(question)):
            info = await self.act(self.api.decide(event.event_id, action), "")
            if info is not None:
                self.app.notify(done_notice(info))
