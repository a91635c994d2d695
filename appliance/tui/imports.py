"""Import: customers, products and tax codes from QuickBooks, with live progress, cancel, the last
run's summary and the records it skipped, with why."""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, ProgressBar, Static

from appliance.core.admin import ConnectionInfo, ImportReport
from appliance.core.left_out import left_out_sentence
from appliance.errors import AdminError
from appliance.tui.common import ConsoleScreen, ago, duration

#: The kinds this screen imports, each started by its number key (1, 2, 3) in this order.
KINDS = (("customers", "Customers"), ("products", "Products"), ("tax_codes", "Tax codes"))
#: How often the screen reads the runs: while one runs, when none does, and (doubling up to the
#: last) while QuickBooks has ended the connection, when nothing new can happen until it is made
#: again (Connect, c; coming back to this screen reads at once).
POLL_SECONDS = 0.5
IDLE_SECONDS = 2.0
ENDED_SECONDS = (5.0, 60.0)


def progress_line(report: ImportReport) -> str:
    seen = report.done + report.skipped
    total = "counting…" if report.total is None else f"{report.total:,}"
    parts = [f"{seen:,} of {total}"]
    if report.rate_per_second:
        parts.append(f"{report.rate_per_second:,.0f}/s")
    if report.eta_seconds is not None:
        parts.append(f"about {duration(report.eta_seconds)} left")
    if report.skipped:
        parts.append(f"{report.skipped:,} skipped")
    return " · ".join(parts)


def ended_line(connection: ConnectionInfo | None) -> str:
    """Why nothing can be imported now and the key that mends it, or "" when connected."""
    if connection is None:
        return "Not connected to QuickBooks: press [b]c[/b], then [b]n[/b], to connect."
    company = connection.company_name or f"realm {connection.realm_id}"
    if connection.state == "needs_reconnect":
        return (
            f"QuickBooks has ended the connection to {company} (it was disconnected in "
            "QuickBooks, or its authorization lapsed). Press [b]c[/b], then [b]n[/b], to "
            "reconnect; the results below are kept."
        )
    if connection.state != "connected":
        return (
            f"Disconnected from {company}. Press [b]c[/b], then [b]n[/b], to connect again; "
            "the results below are kept."
        )
    return ""


def summary_line(report: ImportReport) -> str:
    took = (
        duration((report.finished_at - report.started_at).total_seconds())
        if report.finished_at
        else "-"
    )
    counts = f"{report.done:,} imported, {report.skipped:,} skipped"
    if report.state == "done":
        left_out = left_out_sentence(report.left_out)
        return (
            f"[green]Done[/] {ago(report.finished_at)}: {counts} in {took} "
            f"({report.qbo_calls} QuickBooks calls).{' ' + left_out if left_out else ''}"
        )
    if report.state == "cancelled":
        return f"[yellow]Cancelled[/] {ago(report.finished_at)} after {counts}."
    return f"[red]Failed[/] {ago(report.finished_at)} after {counts}: {report.error or '?'}"


class ImportScreen(ConsoleScreen):
    mode = "import"
    refresh_every = None  # its own pace: see tick()
    BINDINGS = [  # noqa: RUF012
        Binding("1", "start('customers')", "Import Customers"),
        # "Import" once: the footer reads "1 Import Customers  2 Products  3 Tax codes" and fits
        # in 80 columns with the other keys.
        Binding("2", "start('products')", "Products"),
        Binding("3", "start('tax_codes')", "Tax codes"),
        Binding("x", "cancel", "Cancel"),
        Binding("v", "toggle_skips", "Other skips"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reports: dict[str, ImportReport | None] = {}
        self.skips_of = "customers"
        self.ended = ""  # why the connection is ended, as last said; "" while connected
        self.wait = IDLE_SECONDS
        self.next_read = 0.0

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(id="import-connection")
            for kind, title in KINDS:
                with Horizontal(classes="import-row"):
                    yield Static(f"[b]{title}[/b]", classes="import-title")
                    yield ProgressBar(id=f"bar-{kind}", show_eta=False)
                yield Static(id=f"line-{kind}", classes="import-line")
            yield Static(id="skips-title")
            yield DataTable(id="skips", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#skips", DataTable).add_columns("QuickBooks id", "Name", "Why skipped")
        self.query_one("#import-connection", Static).display = False
        self.set_interval(POLL_SECONDS, self.tick)

    def tick(self) -> None:
        if time.monotonic() >= self.next_read:
            self.reload()

    async def fill(self) -> None:
        self.next_read = time.monotonic() + self.wait  # a read that fails waits as long
        ended = await self.fill_runs()
        if ended is None:
            return  # the screen went away
        status = await self.api.status()
        if not self.is_mounted:
            return
        self.show_connection(ended, status.connection)
        running = any(r is not None and r.state == "running" for r in self.reports.values())
        self.next_read = time.monotonic() + (POLL_SECONDS if running else self.wait)

    def show_connection(
        self, ended: list[tuple[str, ImportReport]], info: ConnectionInfo | None
    ) -> None:
        """The connection's state, said once as a notice when it ends (with the key that mends
        it) and kept above the runs; or the runs that just ended, one notice each."""
        line = ended_line(info)
        shown = self.query_one("#import-connection", Static)
        shown.update(f"[yellow]{line}[/]")
        shown.display = bool(line)
        if not line:
            self.ended, self.wait = "", IDLE_SECONDS
            # A run that ended well is told by its line; one that did not, as a notice too.
            for title, report in ended:
                if report.state != "done":
                    self.app.notify(f"{title}: {summary_line(report)}", severity="warning")
            return
        if line != self.ended and info is not None:
            self.app.notify(line, severity="warning", timeout=15)
        first, most = ENDED_SECONDS
        self.wait = first if line != self.ended else min(self.wait * 2, most)
        self.ended = line

    async def fill_runs(self) -> list[tuple[str, ImportReport]] | None:
        """Read and show each kind's latest run; the runs that ended since the last read, or
        None when the screen went away meanwhile."""
        ended = []
        for kind, title in KINDS:
            try:
                report: ImportReport | None = await self.api.import_latest(kind)
            except AdminError as exc:
                if exc.status != 404:  # 404: none has run yet
                    raise
                report = None
            if not self.is_mounted:
                return None  # the operator left the screen while the answer was on its way
            before = self.reports.get(kind)
            self.reports[kind] = report
            try:
                self.show(kind, report)
            except NoMatches:
                return None  # the screen is being taken down: nothing left to show it on
            if (
                before is not None
                and report is not None
                and before.run_id == report.run_id
                and before.state == "running"
                and report.state != "running"
            ):
                ended.append((title, report))
        self.show_skips()
        return ended

    def show(self, kind: str, report: ImportReport | None) -> None:
        bar = self.query_one(f"#bar-{kind}", ProgressBar)
        line = self.query_one(f"#line-{kind}", Static)
        if report is None:
            bar.update(total=1, progress=0)
            key = str([k for k, _ in KINDS].index(kind) + 1)
            line.update(f"Never imported here. Press [b]{key}[/b] to import.")
            return
        seen = report.done + report.skipped
        if report.state == "running":
            bar.update(total=report.total, progress=seen)  # no total yet: it pulses
            line.update(f"Importing: {progress_line(report)}")
        else:
            bar.update(total=max(report.total or seen, 1), progress=seen)
            line.update(summary_line(report))

    def show_skips(self) -> None:
        report = self.reports.get(self.skips_of)
        title = dict(KINDS)[self.skips_of]
        table = self.query_one("#skips", DataTable)
        skips = report.skips if report is not None else []
        if report is None or report.state == "running":
            text = f"Skipped {title.lower()}: shown when the run ends."
        elif skips:
            text = f"[b]Skipped {title.lower()}[/b] in the last run ({len(skips)}):"
        else:
            text = f"No {title.lower()} were skipped in the last run."
        self.query_one("#skips-title", Static).update(text + "  [dim](v: the next kind)[/]")
        shown = [(s.qbo_id, s.name or "", s.reason) for s in skips]
        if [tuple(table.get_row_at(i)) for i in range(table.row_count)] != shown:
            table.clear()
            for row in shown:
                table.add_row(*row)

    @work(group="act")
    async def action_start(self, kind: str) -> None:
        report = await self.act(self.api.import_start(kind), "")
        if report is not None:  # its line shows it running: no notice to cover the screen
            self.skips_of = kind

    @work(group="act")
    async def action_cancel(self) -> None:
        running = [
            kind for kind, report in self.reports.items() if report and report.state == "running"
        ]
        if not running:
            self.app.notify("No import is running.", severity="warning")
            return
        for kind in running:
            await self.act(self.api.import_cancel(kind), f"Cancelling the import of {kind}…")

    def action_toggle_skips(self) -> None:
        kinds = [kind for kind, _ in KINDS]
        self.skips_of = kinds[(kinds.index(self.skips_of) + 1) % len(kinds)]
        self.show_skips()
