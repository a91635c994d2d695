"""The webhook-timestamp window, at its edges, with a fixed clock (the integration tests
send real requests, so they keep a margin from the edge: a stamp is whole seconds)."""

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from appliance.core.events import TOLERANCE_SECONDS, SignatureError, verify_signature

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_800_000_000


def headers(stamp: int, body: str = "{}") -> dict[str, str]:
    signature = Webhook(SECRET).sign("evt_1", datetime.fromtimestamp(stamp, UTC), body)
    return {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS, 0, TOLERANCE_SECONDS])
def test_a_stamp_within_five_minutes_either_way_is_accepted(offset: int) -> None:
    assert verify_signature([SECRET], headers(NOW + offset), b"{}", now=NOW) == "evt_1"


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1])
def test_a_stamp_one_second_past_five_minutes_is_refused(offset: int) -> None:
    with pytest.raises(SignatureError, match="5 minutes"):
        verify_signature([SECRET], headers(NOW + offset), b"{}", now=NOW)
