"""Status: the link at a glance, and the events that need the operator (failed ones to retry or
skip; mismatches, invoices whose QuickBooks totals differ from the bill, to retry or accept)."""

from __future__ import annotations

from datetime import UTC, datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from appliance.core.activity import summary
from appliance.core.admin import EventInfo, EventList, EventMismatch, StatusReport
from appliance.core.changes import feed_lines
from appliance.core.words import a_or_an
from appliance.errors import ServiceNotRunningError
from appliance.tui.common import (
    REFRESH_SECONDS,
    Confirm,
    ConsoleScreen,
    ago,
    books_line,
    connection_lines,
)
from appliance.tui.words import console_words

NOT_RUNNING_HINT = "Start it with `appliance serve` (or `systemctl start jobroutr-gateway`)."


STATUS_COLOURS = {"failed": "red", "mismatch": "magenta"}


def mismatch_lines(found: EventMismatch) -> list[str]:
    """QuickBooks' totals beside the bill's, and what to do (or who accepted QuickBooks')."""
    qbo, bill = found.qbo, found.jobroutr
    lines = [
        f"[magenta]QuickBooks: total {qbo.total or '?'}, tax {qbo.tax or '?'} - "
        f"JobRoutr: total {bill.total or '?'}, tax {bill.tax or '?'}[/]"
    ]
    if found.accepted_at is not None:
        lines.append(f"Accepted by {found.accepted_by or '?'}, {ago(found.accepted_at)}.")
    else:
        lines.append(f"Hint: {console_words(found.hint)}")
        lines.append("r: retry (after fixing the tax mapping) - m: accept QuickBooks' totals")
    return lines


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: Readiness checks by name, as the operator reads them.
CHECK_NAMES = {
    "quickbooks": "QuickBooks",
    "store": "Database",
    "disk": "Disk",
    "clock": "Clock",
    "certificate": "Certificate",
}


def check_lines(status: StatusReport) -> list[str]:
    """The readiness checks that need attention. QuickBooks' is left out when there is no
    connection or it was disconnected: the connection's own lines above say that already, with
    the keys that mend it."""
    lines = []
    for check in status.checks:
        if check.state not in ("warn", "fail"):
            continue
        if check.name == "quickbooks" and (
            status.connection is None or status.connection.state == "disconnected"
        ):
            continue
        colour = "red" if check.state == "fail" else "yellow"
        hint = console_words(check.hint or "")
        name = CHECK_NAMES.get(check.name, check.name.capitalize())
        lines.append(f"[{colour}]! {name}: {check.detail}[/] {hint}".rstrip())
    return lines


class StatusScreen(ConsoleScreen):
    """Connection, queue, recent activity; the failed and mismatched events (or, when none,
    the latest ones) with their reason and hint, to retry, skip or accept."""

    mode = "status"
    refresh_every = REFRESH_SECONDS
    compact_footer = True
    BINDINGS = [  # noqa: RUF012 - Textual reads it from the class
        Binding("r", "retry", "Retry"),
        Binding("R", "retry_all", "Retry all"),
        Binding("k", "skip", "Skip"),
        Binding("K", "skip_all", "Skip all"),
        Binding("m", "accept", "Accept"),
        Binding("f", "toggle_failed", "Failed/recent"),
        Binding("v", "app.switch_mode('review')", "Review"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.only_failed: bool | None = None  # None: the failed ones if any, else recent ones
        self.showing_failed = True
        self.events: list[EventInfo] = []

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(id="health")
            yield Static(id="queue")
            yield Static(id="events-title")
            yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
            yield Static(id="detail")

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        table.add_columns("Received", "Type", "Record", "Status", "Tries", "Event")
        # (Textual then runs ConsoleScreen.on_mount too: it loads and schedules the refresh.)

    async def fill(self) -> None:
        try:
            status = await self.api.status()
        except ServiceNotRunningError as exc:
            self.query_one("#health", Static).update(
                f"[red]{exc.message}[/]\n{NOT_RUNNING_HINT}\nThis console keeps trying every "
                f"{REFRESH_SECONDS:.0f} s and shows the status as soon as it answers."
            )
            self.query_one("#queue", Static).update("")
            self.query_one("#events-title", Static).update("")
            self.query_one("#events", DataTable).clear()
            self.events = []
            self.query_one("#detail", Static).update("")
            return
        self.show_status(status)
        failed = self.only_failed
        if failed is None:
            failed = status.queue.failed > 0 or status.queue.mismatch > 0
        events = await self.api.events(status="failed" if failed else None, limit=100)
        title = "Failed events" if failed else "Recent events"
        if failed and status.queue.mismatch:
            events = await self.with_mismatches(events)
            title = "Failed and mismatched events"
        self.showing_failed = failed
        self.events = events.items
        counts = ", ".join(f"{n} {s}" for s, n in events.counts.items() if n) or "none yet"
        self.query_one("#events-title", Static).update(f"[b]{title}[/b] (all events: {counts})")
        table = self.query_one("#events", DataTable)
        row = table.cursor_row
        table.clear()
        for event in events.items:
            colour = STATUS_COLOURS.get(event.status)
            status_text = f"[{colour}]{event.status}[/]" if colour else event.status
            table.add_row(
                ago(event.received_at),
                event.type,
                short(event.record_id or "", 18),
                status_text,
                str(event.attempts),
                short(event.event_id, 18),  # whole in the detail below
                key=event.event_id,
            )
        if events.items:
            table.move_cursor(row=min(row, len(events.items) - 1))
        self.show_detail()

    async def with_mismatches(self, failed: EventList) -> EventList:
        """The failed events and the mismatched ones, newest first."""
        mismatched = await self.api.events(status="mismatch", limit=100)
        items = sorted(failed.items + mismatched.items, key=lambda e: e.received_at, reverse=True)
        return EventList(items=items, counts=failed.counts)

    def show_status(self, status: StatusReport) -> None:
        health = connection_lines(status.connection)
        if status.connection is not None:
            health.append(books_line(status.books))
        if status.feed is not None:  # what the bookkeeper changed in QuickBooks
            health += feed_lines(status.feed, datetime.now(UTC))
        self.query_one("#health", Static).update("\n".join(health))
        queue = status.queue
        oldest = queue.oldest_queued_age_seconds
        age = f", oldest waiting {oldest:.0f}s" if oldest is not None else ""
        failed = f"[red]{queue.failed} failed[/]" if queue.failed else "0 failed"
        if queue.mismatch:
            failed += f", [magenta]{queue.mismatch} mismatched[/]"
        lines = [
            f"Queue: {queue.queued} queued, {queue.running} running, {queue.waiting} waiting, "
            f"{failed}{age}."
        ]
        if queue.review:  # questions for the operator: nothing is written until they decide
            lines.append(
                f"[b blue]{queue.review} event(s) wait for your decision[/]: press [b]v[/b] "
                "(Review)."
            )
        if status.activity is not None:
            activity = summary(status.activity)
            if status.activity.qbo_throttled:
                activity = activity.replace("throttled", "[yellow]throttled[/]")
            lines.append(activity)
        lines += check_lines(status)
        self.query_one("#queue", Static).update("\n".join(lines))

    def selected(self) -> EventInfo | None:
        table = self.query_one("#events", DataTable)
        if not self.events or table.cursor_row >= len(self.events):
            return None
        return self.events[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        event = self.selected()
        detail = self.query_one("#detail", Static)
        if event is None:
            detail.update("Nothing needs you." if self.showing_failed else "No events yet.")
            return
        lines = [f"{event.event_id}: {event.type} {event.record_id or ''} - {event.status}"]
        if event.error is not None:
            lines.append(f"[red]{event.error.code}: {event.error.message}[/]")
            if event.error.hint:
                lines.append(f"Hint: {console_words(event.error.hint)}")
        if event.mismatch is not None:
            lines.extend(mismatch_lines(event.mismatch))
        if event.waiting_for:
            lines.append(f"Waiting for {console_words(event.waiting_for)}")
        if event.last_error:
            lines.append(f"Last try: {event.last_error}")
        if event.qbo_id:
            lines.append(f"QuickBooks id {event.qbo_id}")
        detail.update("\n".join(lines))

    def failed_selected(self, *statuses: str) -> EventInfo | None:
        event = self.selected()
        if event is None or event.status not in (statuses or ("failed",)):
            what = " or ".join(statuses or ("failed",))
            self.app.notify(f"Choose {a_or_an(what)} event first.", severity="warning")
            return None
        return event

    @work(group="act")
    async def action_retry(self) -> None:
        event = self.failed_selected("failed", "mismatch")
        if event is not None:
            await self.act(self.api.retry([event.event_id]), f"{event.event_id} queued again.")

    @work(group="act")
    async def action_retry_all(self) -> None:
        report = await self.act(self.api.retry(None), "")
        if report is not None:
            self.app.notify(f"{report.count} failed event(s) queued again.")

    @work(group="act")
    async def action_skip(self) -> None:
        event = self.failed_selected()
        if event is None:
            return
        if await self.app.push_screen_wait(
            Confirm(f"Skip {event.event_id}? It will never be written to QuickBooks.")
        ):
            await self.act(self.api.skip([event.event_id]), f"{event.event_id} skipped.")

    @work(group="act")
    async def action_skip_all(self) -> None:
        if await self.app.push_screen_wait(
            Confirm("Skip every failed event? None of them will be written to QuickBooks.")
        ):
            report = await self.act(self.api.skip(None), "")
            if report is not None:
                self.app.notify(f"{report.count} failed event(s) skipped.")

    @work(group="act")
    async def action_accept(self) -> None:
        event = self.failed_selected("mismatch")
        if event is None:
            return
        if await self.app.push_screen_wait(
            Confirm(f"Accept {event.event_id}? QuickBooks' totals stand; it ends done.")
        ):
            await self.act(self.api.accept([event.event_id]), f"{event.event_id} accepted.")

    def action_toggle_failed(self) -> None:
        self.only_failed = not self.showing_failed
        self.reload()
