"""Redaction: whatever route a secret takes to the log, its plaintext never reaches the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from appliance.logging import (
    REDACTED,
    configure_logging,
    forget_secrets,
    get_logger,
    redact,
    register_secret,
    scrub,
)

BEARER = "Bearer abcDEF123456ghiJKL"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API_KEY = "jra_Q2hhbmdlTWVQbGVhc2UtdGhpcy1pcy1hLWZha2U"
OAUTH_CODE = "AB11700000000aCodeFromIntuit"
CALLBACK_URL = f"https://gw.example.com/oauth/callback?code={OAUTH_CODE}&state=xyz&realmId=9130"
REGISTERED = "plain-looking-refresh-value-42"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put every piece of it back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    touched = ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar", "httpx", "httpcore")
    saved_libs = {
        name: (
            logging.getLogger(name).handlers[:],
            logging.getLogger(name).propagate,
            logging.getLogger(name).disabled,
            logging.getLogger(name).level,
        )
        for name in (*touched, "alembic.runtime.migration")
    }
    forget_secrets()
    structlog.contextvars.clear_contextvars()
    try:
        yield
    finally:
        forget_secrets()
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, (handlers, propagate, disabled, level) in saved_libs.items():
            lib = logging.getLogger(name)
            lib.handlers[:] = handlers
            lib.propagate, lib.disabled = propagate, disabled
            lib.setLevel(level)


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    configure_logging("DEBUG", "json", out)
    return out


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# Sensitive keys -----------------------------------------------------------------------------------


SENSITIVE_FIELDS = {
    "access_token": "at-plaintext-value-1",
    "refresh_token": "rt-plaintext-value-2",
    "client_secret": "cs-plaintext-value-3",
    "authorization": "Digest plaintext-value-4",
    "password": "pw-plaintext-value-5",
    "api_key": "ak-plaintext-value-6",
    "cookie": "session=plaintext-value-7",
    "webhook_signature": "v1,plaintext-value-8",
}


def test_values_under_sensitive_keys_are_replaced_and_context_stays_readable(
    stream: io.StringIO,
) -> None:
    get_logger("test").info(
        "token.refreshed", realm_id="9130124", request_id="req-7f3a", path="/v1/customers",
        **SENSITIVE_FIELDS,
    )  # fmt: skip

    output = stream.getvalue()
    for value in SENSITIVE_FIELDS.values():
        assert value not in output
    (line,) = lines(stream)
    for key in SENSITIVE_FIELDS:
        assert line[key] == REDACTED
    assert line["realm_id"] == "9130124"
    assert line["request_id"] == "req-7f3a"
    assert line["path"] == "/v1/customers"
    assert line["event"] == "token.refreshed"
    assert line["level"] == "info"


def test_sensitive_keys_are_matched_whatever_their_case(stream: io.StringIO) -> None:
    get_logger("test").info("call", Authorization="Basic dXNlcjpodW50ZXIy", X_API_KEY="k-123456789")

    output = stream.getvalue()
    assert "dXNlcjpodW50ZXIy" not in output
    assert "k-123456789" not in output


def test_sensitive_keys_inside_nested_dicts_are_replaced(stream: io.StringIO) -> None:
    get_logger("test").info(
        "qbo.request",
        headers={"Authorization": "Digest nested-plaintext", "Accept": "application/json"},
        body={"grant_type": "refresh_token", "refresh_token": "nested-refresh-plaintext"},
    )

    output = stream.getvalue()
    assert "nested-plaintext" not in output
    assert "nested-refresh-plaintext" not in output
    (line,) = lines(stream)
    assert line["headers"]["Accept"] == "application/json"
    assert line["body"]["grant_type"] == "refresh_token"


def test_counts_and_timestamps_about_secrets_are_not_redacted(stream: io.StringIO) -> None:
    get_logger("test").info(
        "key.rotation_finished",
        token_expires_at="2026-01-01T00:00:00Z",
        secrets_resealed=12,
        new_key_version=3,
        api_key_id="key_abc123",
    )

    (line,) = lines(stream)
    assert line["token_expires_at"] == "2026-01-01T00:00:00Z"
    assert line["secrets_resealed"] == 12
    assert line["new_key_version"] == 3
    assert line["api_key_id"] == "key_abc123"


# Secret shapes in free text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plaintext"),
    [
        (f"sending Authorization: {BEARER}", "abcDEF123456ghiJKL"),
        ("sending Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        (f"id_token was {JWT}", JWT.partition(".")[0]),
        (f"id_token was {JWT}", JWT.rpartition(".")[2]),
        (f"webhook secret {WEBHOOK_SECRET} created", WEBHOOK_SECRET.removeprefix("whsec_")),
        (f"JobRoutr called with {API_KEY}", API_KEY.removeprefix("jra_")),
        (f"callback GET {CALLBACK_URL}", OAUTH_CODE),
        ("form grant_type=x&refresh_token=rt-in-a-form-body", "rt-in-a-form-body"),
        ("form client_secret=cs-in-a-form-body&x=1", "cs-in-a-form-body"),
    ],
)
def test_secret_shaped_values_in_the_event_text_are_scrubbed(
    stream: io.StringIO, text: str, plaintext: str
) -> None:
    get_logger("test").info(text)

    assert plaintext not in stream.getvalue()
    (line,) = lines(stream)
    assert REDACTED in line["event"]


def test_scrubbing_keeps_the_non_secret_parts_of_a_callback_url(stream: io.StringIO) -> None:
    get_logger("test").info("oauth.callback", url=CALLBACK_URL, realm_id="9130")

    (line,) = lines(stream)
    assert OAUTH_CODE not in line["url"]
    assert line["url"].startswith("https://gw.example.com/oauth/callback?code=" + REDACTED)
    assert "realmId=9130" in line["url"]
    assert line["realm_id"] == "9130"


def test_secret_shapes_in_non_sensitive_fields_and_lists_are_scrubbed(stream: io.StringIO) -> None:
    get_logger("test").info(
        "jobroutr.request",
        header=BEARER,
        detail={"note": f"sent {WEBHOOK_SECRET}"},
        keys=[API_KEY, "harmless"],
    )

    output = stream.getvalue()
    assert "abcDEF123456ghiJKL" not in output
    assert WEBHOOK_SECRET not in output
    assert API_KEY not in output
    (line,) = lines(stream)
    assert line["keys"][1] == "harmless"
    assert line["header"] == "Bearer " + REDACTED


def test_a_registered_secret_is_scrubbed_however_it_appears(stream: io.StringIO) -> None:
    register_secret(REGISTERED)
    log = get_logger("test")

    log.info(f"refreshing with {REGISTERED}", note=f"value={REGISTERED}!", items=[REGISTERED])

    assert REGISTERED not in stream.getvalue()
    assert len(lines(stream)) == 1


def test_a_registered_secret_in_an_exception_traceback_is_scrubbed(stream: io.StringIO) -> None:
    register_secret(REGISTERED)

    try:
        raise RuntimeError(f"Intuit refused {REGISTERED}")
    except RuntimeError:
        get_logger("test").exception("token.refresh_failed", realm_id="9130")

    (line,) = lines(stream)
    assert "RuntimeError" in line["exception"]
    assert REGISTERED not in stream.getvalue()
    assert line["realm_id"] == "9130"


def test_a_secret_in_a_repr_of_an_arbitrary_object_is_scrubbed(stream: io.StringIO) -> None:
    class Response:
        def __repr__(self) -> str:
            return f"<Response token={REGISTERED}>"

    register_secret(REGISTERED)
    get_logger("test").info("qbo.response", response=Response())

    assert REGISTERED not in stream.getvalue()
    assert "<Response" in stream.getvalue()


def test_a_secret_in_bound_context_is_scrubbed(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-1", access_token="ctx-token-plaintext")

    get_logger("test").info("handled")

    (line,) = lines(stream)
    assert line["request_id"] == "req-1"
    assert "ctx-token-plaintext" not in stream.getvalue()


def test_short_values_are_not_registered_so_common_words_survive(stream: io.StringIO) -> None:
    register_secret("abc")

    get_logger("test").info("abc and abcdef")

    (line,) = lines(stream)
    assert line["event"] == "abc and abcdef"


def test_forget_secrets_stops_scrubbing_a_registered_value() -> None:
    register_secret(REGISTERED)
    assert REGISTERED not in scrub(f"x {REGISTERED} y")

    forget_secrets()

    assert scrub(f"x {REGISTERED} y") == f"x {REGISTERED} y"


# Standard-library loggers (uvicorn, httpx, alembic) go through the same chain ---------------------


def test_stdlib_log_records_are_scrubbed_too(stream: io.StringIO) -> None:
    register_secret(REGISTERED)

    logging.getLogger("somelib").warning(
        "GET %s with %s and %s", CALLBACK_URL, BEARER, REGISTERED, extra={"client_secret": "xs-1"}
    )

    output = stream.getvalue()
    for plaintext in (OAUTH_CODE, "abcDEF123456ghiJKL", REGISTERED, "xs-1"):
        assert plaintext not in output
    (line,) = lines(stream)
    assert line["logger"] == "somelib"
    assert line["level"] == "warning"
    assert line["client_secret"] == REDACTED


def test_console_format_is_redacted_as_well() -> None:
    out = io.StringIO()
    configure_logging("INFO", "console", out)
    register_secret(REGISTERED)

    get_logger("test").info(f"with {REGISTERED}", refresh_token="rt-console-plaintext", realm="r1")

    output = out.getvalue()
    assert REGISTERED not in output
    assert "rt-console-plaintext" not in output
    assert "r1" in output


def test_log_level_filters_lower_events(stream: io.StringIO) -> None:
    configure_logging("WARNING", "json", stream)

    get_logger("test").info("quiet")
    get_logger("test").warning("loud")

    assert [line["event"] for line in lines(stream)] == ["loud"]


def test_a_top_level_bytes_value_is_never_rendered_as_text(stream: io.StringIO) -> None:
    get_logger("test").info("qbo.response", body=b"raw-bytes-plaintext")

    assert "raw-bytes-plaintext" not in stream.getvalue()


def test_nested_bytes_values_are_redacted(stream: io.StringIO) -> None:
    get_logger("test").info("qbo.response", response={"content": b"nested-bytes-plaintext"})

    (line,) = lines(stream)
    assert line["response"]["content"] == REDACTED


# The pure helpers ---------------------------------------------------------------------------------


def test_scrub_leaves_ordinary_text_untouched() -> None:
    text = "realm 9130124 synced 12 customers in 0.4 s (request req-7f3a, path /v1/customers)"

    assert scrub(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"h: {BEARER}", f"h: Bearer {REDACTED}"),
        (f"t={JWT}", f"t={REDACTED}"),
        (f"s {WEBHOOK_SECRET}", f"s whsec_{REDACTED}"),
        (f"k {API_KEY}", f"k jra_{REDACTED}"),
        # The OAuth state is the connect link's one-time key: in a URL or a raw query string.
        ("?code=abc123&state=s1", f"?code={REDACTED}&state={REDACTED}"),
        ("state=s1&realmId=9130", f"state={REDACTED}&realmId=9130"),
        ("import state=running", "import state=running"),
        ("password=hunter2 next", f"password={REDACTED} next"),
    ],
)
def test_scrub_replaces_only_the_secret_part(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_redact_processor_replaces_sensitive_keys_and_scrubs_the_event() -> None:
    event = {"event": f"using {API_KEY}", "refresh_token": "rt-x", "realm_id": "9130", "n": 3}

    result = redact(None, "info", event)

    assert result == {
        "event": f"using jra_{REDACTED}",
        "refresh_token": REDACTED,
        "realm_id": "9130",
        "n": 3,
    }
