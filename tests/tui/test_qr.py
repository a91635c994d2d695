"""The connect link as a QR code in text must scan: decoded here by a real decoder (zxing-cpp)."""

from __future__ import annotations

import pytest

from appliance.tui.connect import qr_lines
from tests.harness.qr import decode

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (a dev dependency) decodes QR codes")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8780/connect/oauth2?response_type=code&client_id=x&state=abc",
        # A production-length Intuit link: client id, scope, redirect URI and state.
        "https://appcenter.intuit.com/connect/oauth2?client_id=ABkXZ3q0rPbR8bXvLm4Kd9sT2uYhGj"
        "Wq1eNf7cVo6iPzA5yE&response_type=code&scope=com.intuit.quickbooks.accounting"
        "&redirect_uri=https%3A%2F%2Fgateway.acme-plumbing.example%2Foauth%2Fcallback"
        "&state=Z2V0LXJlYWR5LWZvci1hLWxvbmctc3RhdGUtdmFsdWUtaGVyZQ",
    ],
)
def test_the_qr_code_in_text_reads_back_as_the_link(url: str) -> None:
    lines = qr_lines(url)
    assert decode(lines) == url
    assert len(lines[0]) <= 80  # fits an 80-column terminal across


def test_a_damaged_code_is_not_read_as_the_link() -> None:
    """The decoder really reads the drawing: blank out the middle and it finds nothing."""
    lines = qr_lines("http://127.0.0.1:8780/connect/oauth2?state=abc")
    middle = len(lines) // 2
    damaged = [line if abs(i - middle) > 4 else " " * len(line) for i, line in enumerate(lines)]
    with pytest.raises(AssertionError, match="no QR code"):
        decode(damaged)
