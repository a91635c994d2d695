"""A QR code drawn in text (half blocks), read back by a real decoder (zxing-cpp, dev only)."""

from __future__ import annotations

import pytest
from PIL import Image

PIXELS = 4  # per module


def decode(lines: list[str]) -> str:
    """Draw the half-block text as a black-on-white image, as a terminal shows it, and read it."""
    zxingcpp = pytest.importorskip(
        "zxingcpp", reason="zxing-cpp (a dev dependency) decodes QR codes"
    )
    width, height = len(lines[0]), len(lines) * 2
    image = Image.new("L", (width * PIXELS, height * PIXELS), 255)
    for row, line in enumerate(lines):
        assert len(line) == width
        for column, glyph in enumerate(line):
            for half, dark in ((0, glyph in "▀█"), (1, glyph in "▄█")):
                if dark:
                    x, y = column * PIXELS, (row * 2 + half) * PIXELS
                    image.paste(0, (x, y, x + PIXELS, y + PIXELS))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "no QR code found"
    return str(found[0].text)
