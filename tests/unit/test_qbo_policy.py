"""Pure parts of connecting: the retry waits, each environment's endpoints, expiry warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from appliance.qbo.client import RetryPolicy
from appliance.qbo.errors import ServerError, ThrottledError
from appliance.qbo.oauth import Callback, endpoints
from appliance.storage.models import Company
from appliance.storage.store import connection_warnings

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_a_throttle_waits_for_retry_after_when_qbo_gives_one() -> None:
    assert RetryPolicy().wait(ThrottledError("slow", retry_after=7), 1, lambda: 0.5) == 7


def test_a_throttle_without_retry_after_backs_off_from_sixty_seconds() -> None:
    policy = RetryPolicy()
    assert policy.wait(ThrottledError("slow"), 1, lambda: 1.0) == 60
    assert policy.wait(ThrottledError("slow"), 1, lambda: 0.0) == 30
    assert policy.wait(ThrottledError("slow"), 2, lambda: 1.0) == 120


def test_server_errors_back_off_exponentially_with_jitter_up_to_a_cap() -> None:
    policy = RetryPolicy(server_initial=1.0, max_wait=300.0)
    waits = [policy.wait(ServerError("x"), n, lambda: 1.0) for n in range(1, 12)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(waits) == 300.0
    assert policy.wait(ServerError("x"), 3, lambda: 0.0) == 2.0


def test_sandbox_and_production_share_oauth_but_not_the_api_host() -> None:
    production = endpoints("production", "http://127.0.0.1:8781")
    sandbox = endpoints("sandbox", "http://127.0.0.1:8781")
    assert (
        production.authorize == sandbox.authorize == "https://appcenter.intuit.com/connect/oauth2"
    )
    assert production.token == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert production.api_base == "https://quickbooks.api.intuit.com/v3"
    assert sandbox.api_base == "https://sandbox-quickbooks.api.intuit.com/v3"


def test_the_emulator_environment_points_everything_at_the_emulator() -> None:
    emulator = endpoints("emulator", "http://127.0.0.1:9999/")
    assert emulator.authorize == "http://127.0.0.1:9999/connect/oauth2"
    assert emulator.api_base == "http://127.0.0.1:9999/v3"


def test_a_pasted_redirect_url_is_read_with_its_code_state_and_realm() -> None:
    callback = Callback.from_url(
        "  https://gw.example.com/oauth/callback?code=AB11x&state=s%201&realmId=934  "
    )
    assert (callback.code, callback.state, callback.realm_id) == ("AB11x", "s 1", "934")
    denied = Callback.from_url("https://gw/oauth/callback?error=access_denied&state=s")
    assert denied.error == "access_denied"
    assert denied.code is None


def company(**fields: object) -> Company:
    values: dict[str, object] = {"state": "connected", **fields}
    return Company(realm_id="1", environment="production", **values)


def test_no_warning_while_the_authorization_has_long_to_run() -> None:
    fine = company(
        refresh_token_expires_at=NOW + timedelta(days=100),
        refresh_token_hard_expires_at=NOW + timedelta(days=1500),
    )
    assert connection_warnings(fine, NOW) == []


def test_warnings_come_well_before_the_rolling_and_the_hard_expiry() -> None:
    soon = company(
        refresh_token_expires_at=NOW + timedelta(days=10),
        refresh_token_hard_expires_at=NOW + timedelta(days=60),
    )
    warnings = connection_warnings(soon, NOW)
    assert len(warnings) == 2
    assert "2026-12-05" in warnings[0]
    assert "5-year" in warnings[1]


def test_needs_reconnect_says_how_to_reconnect() -> None:
    broken = company(state="needs_reconnect")
    (warning,) = connection_warnings(broken, NOW)
    assert "appliance connect" in warning
