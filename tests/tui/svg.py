"""A terminal screen as a picture: what `tmux capture-pane -e` read (text with the terminal's
colour sequences) drawn as SVG by Rich, cell for cell, the size the terminal was."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text


def svg(screen: str, title: str, size: tuple[int, int]) -> str:
    """``screen`` (one line a row, as tmux gives it) as an SVG of ``size`` (columns, rows)."""
    width, height = size
    rows = screen.split("\n")
    if rows and rows[-1] == "":
        rows.pop()  # the newline after the last row
    rows = (rows + [""] * height)[:height]
    console = Console(
        record=True,
        file=io.StringIO(),
        width=width,
        height=height,
        force_terminal=True,
        color_system="256",
        legacy_windows=False,
    )
    # Decoded as a whole: a colour set on one row may hold on the next. A row is never wider
    # than the terminal; it is cropped, not wrapped, should a glyph count otherwise in Rich.
    console.print(Text.from_ansi("\n".join(rows)), no_wrap=True, overflow="crop")
    return console.export_svg(title=title)
