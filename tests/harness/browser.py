"""The operator's browser: Debian's Chromium, headless, driven by Playwright.

Chromium is installed from Debian's packages when it is missing and this process may (root, with
apt-get); where it cannot be had, ``Unavailable`` says why, and tests skip with that sentence.
Playwright drives the machine's own Chromium (``executable_path``): it downloads no browser.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import sync_playwright

#: Chromium on a machine whose only network is loopback: no background connections (they are
#: refused, many at a time), no sandbox (tests run as root), no GPU.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_SECONDS = 600


class Unavailable(Exception):
    """No browser can be had here; the message says why and how to get one."""


def chromium() -> str:
    """The path of Chromium, installed first (Debian's package) when it is missing."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(
            "Chromium is not installed, and only root can install it: apt-get install chromium"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Waiting for the package lock: another install (a test's, the machine's) may hold it.
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=120", "-q"]
    for step in ([*apt, "install", "-y", "chromium"],
                 [*apt, "update"],
                 [*apt, "install", "-y", "chromium"]):  # fmt: skip
        subprocess.run(step, env=env, capture_output=True, timeout=INSTALL_SECONDS, check=False)
        found = shutil.which("chromium")
        if found:
            return found
    raise Unavailable("Chromium is not installed and `apt-get install chromium` did not install it")


class Browser:
    """One page of a headless Chromium, as an operator's browser would show it."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def text(self) -> str:
        return str(self.page.inner_text("body"))

    def consent(self, link: str) -> str:
        """Open the connect link: Intuit's consent page (here the emulator's); its text."""
        self.page.goto(link)
        return self.text()

    def choose(self, button: str) -> str:
        """Press Connect or Cancel on the consent page; the text of the page the browser ends on
        (the appliance's own page, after Intuit sends the browser back to it)."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button).click()
        return self.text()

    def choose_unreachable(self, button: str, appliance: str) -> str:
        """Press ``button`` when the browser cannot reach the appliance (it is on another
        network): the address Intuit sent the browser to, which the operator copies from the
        address bar. (Playwright sees only the first request of a redirect, so the consent
        form's answer is taken here, and the browser told that its next address is
        unreachable, as it would find it.)"""
        sent: list[str] = []

        def answered(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            answer = route.fetch(max_redirects=0)
            location = str(answer.headers.get("location", ""))
            if not location.startswith(appliance):
                route.fulfill(response=answer)
                return
            sent.append(location)
            route.abort("addressunreachable")

        form = self.page.url.split("?", 1)[0]
        self.page.route(form, answered)
        try:
            with contextlib.suppress(Exception):  # the navigation fails: that is the point
                self.page.get_by_role("button", name=button).click()
                self.page.wait_for_load_state()
        finally:
            self.page.unroute(form)
        if not sent:
            shown = self.text()
            raise AssertionError(f"the browser was not sent to {appliance}; it shows:\n{shown}")
        return sent[-1]


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    """A fresh headless Chromium (its own empty profile) with one page, closed afterwards."""
    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=list(FLAGS))
        try:
            page = launched.new_page(viewport={"width": 900, "height": 640})
            page.set_default_timeout(20_000)
            yield Browser(page)
        finally:
            launched.close()
