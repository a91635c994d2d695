"""Connect: the link to open on any device (as text, on the clipboard, or as a QR code for a
phone), and a field for the address the browser ended on when it cannot reach the appliance.

Once the link is made, the screen follows the attempt (the admin API's
``/v1/connect/attempts/{attempt}``, every ``FOLLOW_SECONDS`` until the link expires): when the
browser finishes, it says what the browser's page said (connected, with the company; or why not,
and what to do) in place of the used link.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Footer, Input, Static

from appliance.core.admin import ATTEMPT_CONNECTED, ConnectAttempt, ConnectionInfo
from appliance.errors import ApplianceError
from appliance.tui.common import Confirm, ConsoleScreen, connection_lines, sentence
from appliance.tui.words import console_words

#: What N (a link that may connect another company than the one whose data is here) asks first.
OTHER_COMPANY = (
    "Make a link that may connect another QuickBooks company than the one whose data is "
    "here? Pushing then goes to the company you choose; the records imported from the other "
    "stay here."
)
QR_BORDER = 2  # modules of light margin; scanners need some
#: How often the screen asks how the attempt stands, while the browser has not come back.
FOLLOW_SECONDS = 1.5
#: After the link expires, the screen asks this much longer (the browser may be just finishing).
FOLLOW_GRACE = timedelta(seconds=30)


def qr_lines(data: str) -> list[str]:
    """``data`` as a QR code in text, two rows of modules per line (upper/lower half blocks).
    A block is a dark module: print it dark on light (see ``QrScreen``) for phones to read."""
    import segno  # only when asked for: it and its writers cost ~30 ms before the first paint

    matrix = [list(row) for row in segno.make(data, error="l").matrix_iter(border=QR_BORDER)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))
    glyphs = {(0, 0): " ", (1, 0): "▀", (0, 1): "▄", (1, 1): "█"}
    return [
        "".join(glyphs[(bool(up), bool(down))] for up, down in zip(upper, lower, strict=True))
        for upper, lower in zip(matrix[::2], matrix[1::2], strict=True)
    ]


def company(info: ConnectionInfo) -> str:
    return info.company_name or f"realm {info.realm_id}"


class QrScreen(ModalScreen[None]):
    """The connect link as a QR code: point a phone's camera at it."""

    BINDINGS = [Binding("escape,g", "dismiss", "Back")]  # noqa: RUF012

    def __init__(self, url: str) -> None:
        super().__init__()
        self.lines = qr_lines(url)

    def compose(self) -> ComposeResult:
        width, height = len(self.lines[0]), len(self.lines)
        with VerticalScroll(id="qr-box"):
            yield Static(
                "Scan with a phone to open the link. "
                f"(The code needs a terminal of {width}x{height + 4}; scroll if it is cut.)",
                id="qr-help",
            )
            yield Static(Text("\n".join(self.lines), style="black on white"), id="qr")
        yield Footer()


class ConnectScreen(ConsoleScreen):
    mode = "connect"
    # Not the address field: a focused field would take the screen keys as typing. Pasting
    # anywhere on the screen fills it (``on_paste``); p goes to it, Escape leaves it.
    AUTO_FOCUS = "#connect"
    BINDINGS = [  # noqa: RUF012
        Binding("n", "connect", "New link"),
        Binding("N", "connect(True)", "Link for another company", show=False),
        Binding("g", "qr", "QR code"),
        Binding("y", "copy", "Copy link"),
        Binding("l", "one_line", "One line", show=False),  # said beside the link
        Binding("p", "paste_field", "Paste address"),
        Binding("d", "disconnect", "Disconnect"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]
    authorization_url = ""
    attempt = ""  # the attempt the screen follows ("": none open)
    follow_until = datetime.min.replace(tzinfo=UTC)
    following: Timer | None = None

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="connection")
            yield Static(id="link")
            yield Input(
                placeholder="Paste the address the browser ended on (…/oauth/callback?code=…)",
                id="redirect",
            )
            with Horizontal(classes="buttons"):
                yield Button("Connect (n)", id="connect", variant="primary")  # a new link
                yield Button("Finish", id="finish")
                yield Button("Disconnect (d)", id="disconnect", variant="error")

    async def fill(self) -> None:
        status = await self.api.status()
        self.query_one("#connection", Static).update("\n".join(connection_lines(status.connection)))

    @on(Button.Pressed, "#connect")
    def pressed_connect(self) -> None:
        self.action_connect()

    @work(group="act")
    async def action_connect(self, other_company: bool = False) -> None:
        if other_company and not await self.app.push_screen_wait(Confirm(OTHER_COMPANY)):
            return
        report = await self.act(self.api.connect_start(allow_other_company=other_company), "")
        if report is None:
            return
        self.authorization_url = report.authorization_url
        self.attempt = report.attempt
        waiting = "\n\nWaiting for the browser: this screen says when it is done."
        self.query_one("#link", Static).update(
            "Open this address on any device and approve the connection ([b]g[/b] shows it "
            "as a QR code, [b]y[/b] copies it, [b]l[/b] shows it on one line to select):\n\n"
            f"[b]{report.authorization_url}[/b]\n\n"
            "If the browser cannot reach this appliance afterwards, copy the address it ended "
            "on and paste it here (any time on this screen), then press Enter."
            + (waiting if self.attempt else "")
        )
        if self.attempt:
            self.follow_until = report.expires_at + FOLLOW_GRACE
            if self.following is None:
                self.following = self.set_interval(FOLLOW_SECONDS, self.follow)

    def follow(self) -> None:
        """Ask how the attempt stands, until it ends or its link has expired."""
        if not self.attempt or datetime.now(UTC) > self.follow_until:
            self.attempt = ""
            if self.following is not None:
                self.following.stop()
                self.following = None
            return
        self.ask(self.attempt)

    @work(exclusive=True, group="follow")
    async def ask(self, attempt: str) -> None:
        """One question (quietly: one that fails is asked again at the next turn)."""
        try:
            found = await self.api.connect_attempt(attempt)
        except ApplianceError:
            return
        if found.message:  # it ended: connected, refused, expired
            self.ended(found)

    def ended(self, attempt: ConnectAttempt) -> None:
        """Say how the attempt followed ended, in place of its link (told once)."""
        if attempt.attempt != self.attempt:
            return
        self.attempt = self.authorization_url = ""
        ok = attempt.state == ATTEMPT_CONNECTED
        colour = "green" if ok else "red"
        # The service says it as for a shell (`appliance connect`); here, the keys that do it.
        message, hint = console_words(attempt.message), console_words(attempt.hint or "")
        told = f"[b {colour}]{message}[/]"  # both escaped by console_words
        if hint:
            told += f"\n{hint}"
        if not ok:
            told += "\n\nPress [b]n[/b] for a new link."
        self.query_one("#link", Static).update(told)
        if ok and attempt.connection is not None:
            self.app.notify(f"Connected to {company(attempt.connection)}.")
            self.reload()
        else:  # nothing changed but the link's state
            self.app.notify(f"{message}\n{hint}".strip(), severity="error")

    def on_paste(self, event: events.Paste) -> None:
        field = self.query_one("#redirect", Input)
        if not field.has_focus:  # a paste into the field itself goes there already
            field.value = event.text.strip()
            field.focus()
            event.stop()

    def action_paste_field(self) -> None:
        self.query_one("#redirect", Input).focus()

    def action_leave_field(self) -> None:
        self.query_one("#connect", Button).focus()

    def action_qr(self) -> None:
        if not self.authorization_url:
            self.app.notify(
                "Press n first: the QR code is of the connect link.", severity="warning"
            )
            return
        self.app.push_screen(QrScreen(self.authorization_url))

    def action_copy(self) -> None:
        if not self.authorization_url:
            self.app.notify("Press n first to make the connect link.", severity="warning")
            return
        # OSC 52: the terminal (even over SSH) puts it on the clipboard, where it allows that.
        self.app.copy_to_clipboard(self.authorization_url)
        self.app.notify(
            "The link was sent to your terminal's clipboard. If nothing arrives there, your "
            "terminal does not allow it: press l to see the link on one line, and select it."
        )

    def action_one_line(self) -> None:
        """The link alone on the plain terminal, on one line (wrapped by the terminal, not by
        the console), so the mouse or tmux selects it whole; Enter comes back."""
        if not self.authorization_url:
            self.app.notify("Press n first to make the connect link.", severity="warning")
            return
        try:
            with self.app.suspend():  # it comes back only if nothing raises inside
                # On a cleared screen: a link shown before (now used) is not there to take.
                print(f"\033[H\033[2JThe connect link, on one line:\n\n{self.authorization_url}\n")
                with contextlib.suppress(EOFError):
                    input("Select it, then press Enter to go back to the console. ")
        except SuspendNotSupported:
            self.app.notify(
                "This terminal cannot show the link on its own: press y to copy it.",
                severity="warning",
            )

    @on(Input.Submitted, "#redirect")
    def submitted(self) -> None:
        self.finish(self.query_one("#redirect", Input).value.strip())

    @on(Button.Pressed, "#finish")
    def pressed_finish(self) -> None:
        self.submitted()

    @work(group="act")
    async def finish(self, url: str) -> None:
        if not url:
            self.app.notify("Paste the address the browser ended on first.", severity="warning")
            return
        self.action_leave_field()  # the field did its job: keys are the screen's again
        try:
            info = await self.api.connect_finish(url)
        except ApplianceError as exc:
            if not await self.ended_now():  # the attempt followed ended with it: said there
                self.app.notify(sentence(exc), severity="error", timeout=10)
            return
        self.query_one("#redirect", Input).value = ""
        if not await self.ended_now():  # an address of a link made elsewhere (the CLI)
            self.connected(info)

    async def ended_now(self) -> bool:
        """Ask once how the attempt followed stands; True if it ended (and was said)."""
        if not self.attempt:
            return False
        try:
            found = await self.api.connect_attempt(self.attempt)
        except ApplianceError:
            return False
        if not found.message:
            return False
        self.ended(found)
        return True

    def connected(self, info: ConnectionInfo) -> None:
        self.query_one("#link", Static).update("")
        self.attempt = self.authorization_url = ""
        self.app.notify(f"Connected to {company(info)}.")
        self.reload()

    @on(Button.Pressed, "#disconnect")
    def pressed_disconnect(self) -> None:
        self.action_disconnect()

    @work(group="act")
    async def action_disconnect(self) -> None:
        if not await self.app.push_screen_wait(
            Confirm("Disconnect from QuickBooks? Pushing stops until you connect again.")
        ):
            return
        if await self.act(self.api.disconnect(), "Disconnected from QuickBooks.") is not None:
            # What the last attempt said ("… is connected.") no longer holds.
            self.query_one("#link", Static).update("")
            self.attempt = self.authorization_url = ""
