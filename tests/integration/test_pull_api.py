"""The pull API in-process, on a store connected to a company: bad cursors and limits are a 400
problem, never a server error, whatever they carry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from litestar.testing import TestClient

from appliance.config import Settings
from appliance.core.tokens import TokenSet
from appliance.gateway.app import create_app
from appliance.storage import credentials
from appliance.storage.connections import save_connection
from appliance.storage.store import Store, initialize
from appliance.storage.types import utcnow

REALM = "9341453050298464"
PROBLEM = "application/problem+json"
LISTS = ("/api/v1/customers", "/api/v1/products", "/api/v1/accounts")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    initialize(settings, actor="test")
    store = Store.open(settings)
    try:
        now = utcnow()
        tokens = TokenSet("access", "refresh", now + timedelta(hours=1), now + timedelta(days=100))
        save_connection(
            store.engine,
            store.vault,
            realm_id=REALM,
            environment="sandbox",
            company_name="Test Co",
            tokens=tokens,
        )
        with store.session() as session:
            _, key = credentials.create_api_key(session, label="test")
            session.commit()
        with TestClient(create_app(settings, store)) as test_client:
            test_client.headers["Authorization"] = f"Bearer {key}"
            yield test_client
    finally:
        store.close()


def cursor(doc: object) -> str:
    """A cursor in this appliance's encoding (URL-safe base64 of JSON, unpadded) holding ``doc``."""
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_cursor_from_a_page_returns_what_changed_since(client: TestClient) -> None:
    first = client.get("/api/v1/customers")
    assert first.status_code == 200
    again = client.get("/api/v1/customers", params={"cursor": first.json()["next_cursor"]})
    assert again.status_code == 200
    assert again.json() == {"items": [], "next_cursor": first.json()["next_cursor"]}


BAD_CURSORS = {
    "2**63": cursor({"r": REALM, "s": 2**63}),  # past SQLite's integers: OverflowError
    "10**100": cursor({"r": REALM, "s": 10**100}),
    # RecursionError in the JSON parser (40,000 levels: httpx sends no query over 64 KiB).
    "40000 [": cursor(b"[" * 40_000),
    "s nested 40000 deep": cursor(
        b'{"r": "' + REALM.encode() + b'", "s": ' + b"[" * 40_000 + b"]}"
    ),
    "s true": cursor({"r": REALM, "s": True}),  # a bool is an int to Python, not a number
    "s -1": cursor({"r": REALM, "s": -1}),
    "s 1.5": cursor({"r": REALM, "s": 1.5}),
    "s a string": cursor({"r": REALM, "s": "1"}),
    "no s": cursor({"r": REALM}),
    "another realm": cursor({"r": "another realm", "s": 1}),
    "a list": cursor([REALM, 1]),
    "not UTF-8": cursor(b"\xff\xfe\x00"),
    "5000 digits": cursor(b'{"r": "' + REALM.encode() + b'", "s": ' + b"9" * 5000 + b"}"),
    "not base64": "not-a-cursor",
    "punctuation": "!!!!",
    "empty object": "e30",
    "10000 characters": "A" * 10_000,
}


@pytest.mark.parametrize("value", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_a_cursor_this_appliance_did_not_issue_is_a_400_problem(
    client: TestClient, value: str
) -> None:
    for path in LISTS:
        response = client.get(path, params={"cursor": value})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "cursor" in response.json()["detail"]


@pytest.mark.parametrize("value", ["0", "-1", "1001", str(2**63), str(10**100), "x", "1.5"])
def test_a_limit_out_of_range_is_a_400_problem(client: TestClient, value: str) -> None:
    response = client.get("/api/v1/customers", params={"limit": value})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


@hsettings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=150).map(cursor),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.integers(min_value=2**63 - 2, max_value=2**200)
            | st.floats()
            | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=6,
        ).map(lambda s: cursor({"r": REALM, "s": s})),
    )
)
def test_any_cursor_is_answered_200_or_400_never_a_server_error(
    client: TestClient, value: str
) -> None:
    response = client.get("/api/v1/products", params={"cursor": value})
    assert response.status_code in (200, 400), response.text
