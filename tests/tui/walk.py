"""A newcomer's whole setup, walked in a real terminal at 80x24: `appliance tui` in tmux, the
consent page in a real browser (headless Chromium), a British company on the bundled emulator
(so its VAT rates need mapping), and JobRoutr's first signed events.

Connect by browser, disconnect, connect again by pasting the address the browser ended on (the
browser cannot reach the appliance then), import customers, products and tax codes, choose the
default accounts, see the first invoice wait for its tax codes, map them, see it written, and
Mark Complete. Each step waits for what the screen must say (so a step that goes wrong stops the
walk, with the screen), and the screens are saved as SVG, in colour, as tmux drew them.

    .venv/bin/python -m tests.tui.walk [DIRECTORY]    (default: docs/console/walk)

tests/tui/test_walk.py walks it on every test run, into a temporary directory.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.emulator.app import EmulatorConfig
from tests.harness.browser import Browser, browser
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.jobroutr import example
from tests.harness.processes import ROOT, free_port
from tests.harness.terminal import Terminal, tmux_path
from tests.tui.svg import svg

SIZE = (80, 24)
PACE = 0.25  # seconds after each key
NOTICE = "▌"  # the left edge Textual draws a notice with
COMPANY = "uk"  # a company whose tax codes JobRoutr's rates are mapped to
CONNECTED = "Your QuickBooks Online account is connected."
LINK = re.compile(r"https?://\S+/connect/oauth2\?\S+")
#: JobRoutr's first events: the customer, the products the invoice bills, and the invoice.
PRODUCTS = (
    ("prd_boiler_service", "Annual boiler service", "85.00"),
    ("prd_parts", "Thermocouple", "12.50"),
    ("prd_callout", "Call-out", "30.00"),
)


@dataclass
class Walk:
    console: Terminal
    browser: Browser
    gateway: Gateway
    books: RunningEmulator
    target: Path
    pictures: list[Path] = field(default_factory=list)

    @property
    def company(self) -> str:
        return self.books.service.companies[self.books.realm].name

    def see(self, *texts: str, absent: tuple[str, ...] = ()) -> str:
        """Wait until the screen shows every one of ``texts`` and none of ``absent``."""
        return self.console.wait_for(
            lambda shown: all(t in shown for t in texts) and not any(t in shown for t in absent),
            f"{texts} on the screen" + (f", without {absent}" if absent else ""),
        )

    def press(self, *keys: str) -> None:
        """Keys at a person's pace: a key that moves the focus takes effect before the next."""
        for key in keys:
            self.console.press(key)
            time.sleep(PACE)

    def picture(self, name: str, title: str, notices: bool = False) -> Path:
        """The screen as an SVG; once the notices have gone (they cover part of an 80x24
        screen for a few seconds), unless they are the point."""
        if not notices:
            with contextlib.suppress(AssertionError):
                self.console.wait_for(lambda shown: NOTICE not in shown, "the notices to go")
        path = self.target / f"{name}.svg"
        path.write_text(svg(self.console.colours(), title, SIZE))
        self.pictures.append(path)
        return path

    def search(self, words: str) -> None:
        """``/``, then ``words`` once the search field has the keys (the footer stops showing
        the letter keys then: they would be typed), then Enter."""
        self.press("/")  # tmux's name for it (it would type "slash")
        self.console.wait_for(
            lambda shown: "q Quit" not in shown.splitlines()[-1], "the search field to take keys"
        )
        self.console.type(words)
        self.see(words)
        self.press("Enter")
        self.console.wait_for(
            lambda shown: "q Quit" in shown.splitlines()[-1], "the search field to let go"
        )

    def link(self) -> str:
        """The connect link as an operator copies it: `l` prints it on one line, the terminal
        wraps it, tmux's copy takes it whole; Enter goes back to the console."""
        self.press("l")
        self.see("press Enter to go back")
        links = LINK.findall(self.console.joined())
        assert len(links) == 1, links
        self.press("Enter")
        self.see("New link")
        return str(links[0])


def before_connecting(walk: Walk) -> None:
    walk.see("Not connected", "Queue:")
    walk.picture("01-status-new", "Status, before connecting")
    walk.press("o")
    walk.see("No QuickBooks company is connected yet.", "(Connect: press c)", "Mark Complete")
    walk.picture("02-onboarding-new", "Onboarding, before connecting")


def connect_by_browser(walk: Walk) -> None:
    walk.press("c")
    walk.see("Connect (n)")
    walk.press("n")
    walk.see("Open this address")
    walk.picture("03-connect-link", "Connect: the link to open")
    link = walk.link()
    page = walk.browser.consent(link)
    assert walk.company in page, page
    page = walk.browser.choose("Connect")
    assert CONNECTED in page, page
    walk.see(f"Connected to {walk.company}")
    walk.picture("04-connect-browser", "Connect: the browser finished")


def connect_by_paste(walk: Walk) -> None:
    walk.press("d")
    walk.see("Disconnect")
    walk.press("y")
    walk.see("QuickBooks: disconnected", absent=(CONNECTED,))  # the old attempt's words go too
    walk.press("n")
    walk.see("Open this address")
    walk.browser.consent(walk.link())
    ended = walk.browser.choose_unreachable("Connect", walk.gateway.service.url)
    assert "/oauth/callback?" in ended, ended
    assert "code=" in ended, ended
    walk.console.paste(ended)  # anywhere on the screen: it goes into the field
    walk.see("realmId=")
    walk.press("Enter")
    walk.see(f"Connected to {walk.company}")
    walk.picture("05-connect-paste", "Connect: the pasted address")


def imports(walk: Walk) -> None:
    walk.press("i")  # the field has let go of the keys: this is the Import screen, not a letter
    walk.see("Import Customers")
    for key, line in (("1", "customers"), ("2", "products"), ("3", "tax codes")):
        walk.press(key)
        walk.console.wait_for(
            lambda shown, line=line: finished(shown, line), f"the {line} import to finish"
        )
    walk.picture("06-import", "Import: customers, products and tax codes")


def finished(shown: str, what: str) -> bool:
    """The import's title row is followed by its last run's summary, "Done …"."""
    rows = [row.strip().casefold() for row in shown.splitlines()]
    return any(
        row.startswith(what) and below.startswith("done") for row, below in itertools.pairwise(rows)
    )


def accounts(walk: Walk) -> None:
    walk.press("a")
    walk.see("No accounts imported yet", "r")
    walk.press("r")
    walk.see("Income account", absent=("No accounts imported yet",))
    for kind, words in (("income", "sales"), ("expense", "cost of goods")):
        walk.search(words)
        walk.press("Enter")  # the first account found
        walk.see(f"{kind} →")  # "Not saved yet: income → …"
        walk.press("Tab")  # the next list
    walk.picture("07-accounts", "Accounts: the defaults chosen")
    walk.press("C-s")
    walk.see("Saved")


def jobroutr_sends(walk: Walk) -> str:
    """JobRoutr's first events; the invoice waits for its VAT rates' tax codes."""
    sent = [walk.gateway.send(example("customer.created.vat"))]
    for product_id, name, price in PRODUCTS:
        data = {"id": product_id, "name": name, "type": "service", "price": price}
        product = {"type": "product.created", "timestamp": "2026-12-02T09:00:00Z", "data": data}
        sent.append(walk.gateway.send(product))
    walk.gateway.settle(*sent)
    return walk.gateway.send(example("invoice.created.vat"))


def taxes(walk: Walk, invoice: str) -> None:
    walk.press("s")
    walk.see("waiting")
    walk.picture("08-status-waiting", "Status: the first invoice waits for its tax codes")
    walk.press("t")  # (Status names the rates too: wait for what only Taxes shows)
    walk.see("JobRoutr tax rates", "? 20.0% S", "? 0.0% Z")
    walk.picture("09-taxes", "Taxes: JobRoutr's rates and their suggested codes")
    walk.press("e")  # every suggestion
    walk.see("→ 20.0% S", "→ 0.0% Z")
    walk.press("x", "y")  # the untaxed lines' code: the suggested one
    walk.see("Untaxed lines (x): Exempt")
    walk.press("d", "y")  # the discount account: the suggested one
    walk.see("Discount account (d): Discounts given", absent=("No discount account",))
    walk.press("Escape")
    walk.picture("10-taxes-mapped", "Taxes: mapped")
    (result,) = walk.gateway.settle(invoice)
    assert result["status"] == "done", result
    walk.press("s")
    walk.see("inv_uk_0003 - done")
    walk.picture("11-status-done", "Status: the invoice written")


def complete(walk: Walk) -> None:
    walk.press("o")
    walk.see("Step 2 of JobRoutr's setup", "5. Map tax rates")
    walk.picture("12-onboarding-ready", "Onboarding: the tasks done")
    walk.press("m")
    walk.see("Step 3: Build Service")
    walk.picture("13-onboarding-complete", "Onboarding: marked complete")
    walk.console.quit()
    walk.console.assert_no_traceback()


STEPS: tuple[Callable[[Walk], Any], ...] = (
    before_connecting,
    connect_by_browser,
    connect_by_paste,
    imports,
    accounts,
)


@contextlib.contextmanager
def walking(target: Path) -> Iterator[Walk]:
    """The emulator, the service (unconnected, on a port the browser can be sent back to), the
    console in tmux at 80x24 and a browser, all stopped afterwards."""
    tmux = tmux_path()
    target.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = EmulatorConfig(
        company=COMPANY, redirect_uris=[f"http://127.0.0.1:{port}/oauth/callback"]
    )
    with (
        RunningEmulator(config) as books,
        tempfile.TemporaryDirectory() as tmp,
        running_gateway(books, Path(tmp), connect=False, port=port) as gateway,
        browser() as page,
    ):
        console = Terminal(tmux, gateway.env, SIZE)
        try:
            console.start()
            yield Walk(console, page, gateway, books, target)
        finally:
            console.kill()


def walk(target: Path) -> list[Path]:
    with walking(target) as walker:
        for step in STEPS:
            step(walker)
        invoice = jobroutr_sends(walker)
        taxes(walker, invoice)
        complete(walker)
        return walker.pictures


if __name__ == "__main__":
    into = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "console" / "walk"
    for path in walk(into):
        print("saved", path)
