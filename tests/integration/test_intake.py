"""POST /webhooks/jobroutr as the contract says: signed with JobRoutr's reference signer
(standardwebhooks), committed before 202, duplicates answered once, bad input refused with
nothing queued, and no hostile request a server error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from appliance.config import Settings
from appliance.core.events import secret_key
from appliance.gateway.app import create_app
from appliance.storage import credentials
from appliance.storage.models import Event, Job
from appliance.storage.store import Store, initialize
from tests.support import shared_dir

EXAMPLES = shared_dir() / "jobroutr" / "examples"


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    initialize(settings, actor="test")
    opened = Store.open(settings)
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store)) as test_client:
        yield test_client


@pytest.fixture
def secret(store: Store) -> str:
    with store.session() as session:
        value = credentials.webhook_secret(session, store.vault)
    assert value is not None
    return value


def signed(secret: str, body: bytes, event_id: str, when: float | None = None) -> dict[str, str]:
    stamp = datetime.fromtimestamp(when if when is not None else time.time(), UTC)
    signature = Webhook(secret).sign(event_id, stamp, body.decode())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def send(client: TestClient, secret: str, doc: object, event_id: str = "evt_1", **kw):  # type: ignore[no-untyped-def]
    body = json.dumps(doc).encode()
    return client.post(
        "/webhooks/jobroutr", content=body, headers=signed(secret, body, event_id, **kw)
    )


def queued(store: Store) -> tuple[int, int]:
    with store.session() as session:
        return len(session.exec(select(Event)).all()), len(session.exec(select(Job)).all())


def example(name: str) -> dict:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"JobRoutr examples not found at {EXAMPLES}; set JOBROUTR_SHARED_DIR")
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "name", ["customer.created", "customer.updated", "product.created", "invoice.created"]
)
def test_each_example_event_is_accepted_and_queued_durably(
    client: TestClient, store: Store, secret: str, name: str
) -> None:
    response = send(client, secret, example(name), event_id=f"evt_{name}")
    assert response.status_code == 202
    assert response.json() == {"event_id": f"evt_{name}", "status": "queued"}
    with store.session() as session:
        event = session.get(Event, f"evt_{name}")
        assert event is not None
        assert event.type == name
        job = session.exec(select(Job).where(Job.event_id == event.id)).one()
    # The push workers may have picked it up already (not connected here: it waits for that).
    assert job.state in ("queued", "running", "waiting")
    assert job.record_key == f"{name.split('.', maxsplit=1)[0]}:{example(name)['data']['id']}"


def test_the_same_webhook_id_again_gets_the_first_answer_and_queues_nothing(
    client: TestClient, store: Store, secret: str
) -> None:
    doc = example("customer.created")
    first = send(client, secret, doc, event_id="evt_dup")
    again = send(client, secret, doc, event_id="evt_dup")  # a retry is re-signed
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert queued(store) == (1, 1)


def test_an_unknown_type_is_kept_and_ignored(client: TestClient, store: Store, secret: str) -> None:
    doc = {"type": "route.optimised", "timestamp": "2026-11-25T10:00:00Z", "data": {"x": 1}}
    response = send(client, secret, doc, event_id="evt_future")
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert queued(store) == (1, 0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("tamper", "No webhook-signature matches"),
        ("old", "5 minutes"),
        ("future", "5 minutes"),
        ("missing", "required"),
        ("other-secret", "No webhook-signature matches"),
    ],
)
def test_bad_signatures_and_times_are_401_and_queue_nothing(
    client: TestClient, store: Store, secret: str, change: str, reason: str
) -> None:
    body = json.dumps(example("customer.created")).encode()
    headers = signed(secret, body, "evt_bad")
    if change == "tamper":
        body = body.replace(b"Dana", b"Dina")
    elif change == "old":
        headers = signed(secret, body, "evt_bad", when=time.time() - 301)
    elif change == "future":
        headers = signed(secret, body, "evt_bad", when=time.time() + 301)
    elif change == "missing":
        del headers["webhook-signature"]
    else:
        headers = signed("whsec_" + "A" * 32, body, "evt_bad")
    response = client.post("/webhooks/jobroutr", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert reason in response.json()["detail"]
    assert queued(store) == (0, 0)


def test_either_of_two_signatures_is_enough_during_a_rotation(
    client: TestClient, store: Store, secret: str
) -> None:
    body = json.dumps(example("product.created")).encode()
    headers = signed(secret, body, "evt_rot")
    other = signed("whsec_" + "B" * 32, body, "evt_rot")["webhook-signature"]
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    assert client.post("/webhooks/jobroutr", content=body, headers=headers).status_code == 202


def test_invalid_data_is_422_naming_every_invalid_field(
    client: TestClient, store: Store, secret: str
) -> None:
    doc = example("invoice.created")
    doc["data"].pop("customer_id")
    doc["data"]["lines"][0]["quantity"] = 2
    doc["data"]["issue_date"] = "25/11/2026"
    response = send(client, secret, doc, event_id="evt_422")
    assert response.status_code == 422
    names = {p["name"] for p in response.json()["invalid_params"]}
    assert names == {"data.customer_id", "data.lines[0].quantity", "data.issue_date"}
    assert queued(store) == (0, 0)


def test_a_body_over_256_kib_is_413(client: TestClient, store: Store, secret: str) -> None:
    doc = example("customer.created")
    doc["data"]["notes"] = "x" * (300 * 1024)
    response = send(client, secret, doc, event_id="evt_big")
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert queued(store) == (0, 0)


def test_a_signed_body_that_is_not_json_is_422(
    client: TestClient, store: Store, secret: str
) -> None:
    body = b"\xff\xfe not json"
    stamp = str(int(time.time()))
    mac = hmac.new(secret_key(secret), f"evt_bin.{stamp}.".encode() + body, hashlib.sha256)
    headers = {
        "webhook-id": "evt_bin",
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    response = client.post("/webhooks/jobroutr", content=body, headers=headers)
    assert response.status_code == 422
    assert "not UTF-8 JSON" in response.json()["detail"]
    assert queued(store) == (0, 0)


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


@hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.binary(max_size=2048),
    event_id=header_text,
    stamp=header_text,
    signature=header_text,
)
def test_garbage_headers_and_bodies_never_give_a_server_error(
    client: TestClient, body: bytes, event_id: str, stamp: str, signature: str
) -> None:
    response = client.post(
        "/webhooks/jobroutr",
        content=body,
        headers={
            "webhook-id": event_id,
            "webhook-timestamp": stamp,
            "webhook-signature": signature,
        },
    )
    assert response.status_code < 500


@hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    doc=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    ),
    kind=st.sampled_from(["customer.created", "product.updated", "invoice.created", "x"]),
)
def test_validly_signed_garbage_documents_never_give_a_server_error(
    client: TestClient, secret: str, doc: object, kind: str
) -> None:
    wrapped = {"type": kind, "timestamp": "2026-11-25T10:00:00Z", "data": doc}
    for candidate in (doc, wrapped):
        body = json.dumps(candidate).encode()
        response = client.post(
            "/webhooks/jobroutr", content=body, headers=signed(secret, body, f"evt_{hash(body)}")
        )
        assert response.status_code < 500
