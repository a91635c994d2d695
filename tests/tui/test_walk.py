"""The whole setup as a newcomer walks it (tests/tui/walk.py): a real terminal (tmux, 80x24), a
real browser (headless Chromium) on the consent page, the service as a process and JobRoutr's
first signed events. Every step waits for what its screen must say, so a step that goes wrong
fails here with the screen; the pictures it saves are the ones in docs/console/walk/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness.browser import Unavailable
from tests.harness.terminal import tmux_path
from tests.tui.walk import walk

pytestmark = pytest.mark.slow

#: Each picture, and words it must hold: the step's own, not the bar or the footer's.
SAID = {
    "01-status-new": ["Not connected to QuickBooks"],
    "02-onboarding-new": ["No QuickBooks company is connected yet.", "(Connect: press c)"],
    "03-connect-link": ["Open this address", "/connect/oauth2?", "Waiting for the browser"],
    "04-connect-browser": ["Your QuickBooks Online account is connected."],
    "05-connect-paste": ["Your QuickBooks Online account is connected."],
    "06-import": ["29 imported", "19 imported", "4 imported"],
    "07-accounts": ["Not saved yet:", "Sales of Product Income", "Cost of Goods Sold"],
    "08-status-waiting": ["waiting", "Press t (Taxes) to map them."],
    "09-taxes": ["VAT 20%", "? 20.0% S", "JobRoutr tax rates not mapped yet"],
    "10-taxes-mapped": ["→ 20.0% S", "→ 0.0% Z", "Nothing missing"],
    "11-status-done": ["inv_uk_0003", "done", "QuickBooks id"],
    "12-onboarding-ready": ["Map tax rates", "Choose a discount account"],
    "13-onboarding-complete": ["Marked complete", "Step 3: Build Service"],
}


def words(svg: str) -> str:
    """The text an SVG of the screen shows (Rich writes each run of text as its own element,
    spaces as &#160;), one string to search."""
    text = re.sub(r"<[^>]+>", "", svg.replace("&#160;", " "))
    return re.sub(r"\s+", " ", text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"))


@pytest.mark.timeout(420)
def test_a_newcomer_sets_everything_up_in_a_real_terminal(tmp_path: Path) -> None:
    tmux_path()
    try:
        pictures = walk(tmp_path)
    except Unavailable as exc:
        pytest.skip(str(exc))
    assert [p.stem for p in pictures] == list(SAID)
    for picture in pictures:
        svg = picture.read_text()
        assert svg.startswith("<svg"), picture
        shown = words(svg)
        for said in SAID[picture.stem]:
            assert said in shown, f"{picture.name} does not say {said!r}: {shown}"
        assert "Traceback" not in shown, picture.name
