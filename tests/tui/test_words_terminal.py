"""The connect link in a real terminal (tmux at 80x24): on the Connect screen the console wraps it
over several rows, each drawn apart, so selecting it takes line breaks with it; `l` shows it on
one line of the plain terminal, which wraps it itself, so it is selected (here: tmux's copy of a
wrapped line, `capture-pane -J`) whole. Enter goes back to the console."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import running_gateway
from tests.harness.terminal import Terminal, terminal, tmux_path

__all__ = ["terminal"]  # the fixture, used by name

pytestmark = pytest.mark.slow


@pytest.mark.timeout(120)
def test_l_shows_the_connect_link_on_one_line_to_select_whole(
    books: RunningEmulator, tmp_path: Path, terminal: Callable[[Mapping[str, str]], Terminal]
) -> None:
    tmux_path()
    with running_gateway(books, tmp_path, connect=False) as gateway:
        console = terminal(gateway.env)
        console.wait_for(lambda s: "Queue:" in s or "Not connected" in s, "the Status screen")
        console.press("c")
        console.wait_for(lambda s: "Connect (n)" in s, "the Connect screen")
        console.press("n")
        console.wait_for(lambda s: "Open this address" in s, "the link")
        console.press("l")
        console.wait_for(lambda s: "press Enter to go back" in s, "the link on one line")
        lines = console.joined().splitlines()
        links = [line for line in lines if "/connect/oauth2?" in line]
        assert len(links) == 1, lines
        link = links[0].strip()
        assert link.startswith("http://"), link
        assert " " not in link, link
        assert "redirect_uri=" in link, link
        assert "state=" in link, link
        console.press("Enter")
        console.wait_for(lambda s: "Connect (n)" in s, "the console again")
        console.quit()
        console.assert_no_traceback()
