"""The admin API's events, in-process and with no push workers running, so each event stays in
the state the test puts it in: what a failed, queued-after-an-error and skipped event show, and
retry/skip answering with a report (and a problem for what cannot be done)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from appliance.config import Settings
from appliance.gateway.app import create_admin_app
from appliance.gateway.runtime import Runtime
from appliance.storage import push as jobs
from appliance.storage import queue
from appliance.storage.events import accept
from appliance.storage.outcomes import Failure
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from tests.harness.store import recent_audit

LEASE = timedelta(seconds=60)
PROBLEM = "application/problem+json"


@pytest.fixture
def admin(settings: Settings, store: Store) -> Iterator[TestClient]:
    runtime = Runtime(settings, store)  # not started: no worker touches the events
    try:
        with TestClient(create_admin_app(settings, store, runtime)) as client:
            client.headers["X-Appliance-Operator"] = "dana@cli"
            yield client
    finally:
        asyncio.run(runtime.aclose())


def outcome(store: Store, event_id: str, state: str, **kwargs: Any) -> None:
    accept(
        store.engine,
        event_id=event_id,
        event_type="invoice.created",
        payload={"type": "invoice.created", "data": {"id": f"inv_{event_id}"}},
        realm_id=None,
        occurred_at=None,
        known=True,
    )
    claim = queue.claim(store.engine, "test", LEASE)
    assert claim is not None
    assert claim.event_id == event_id
    assert jobs.load(store.engine, claim) is not None
    outcomes = {
        "done": jobs.Done,
        "failed": jobs.Failed,
        "queued": jobs.RetryLater,
        "waiting": jobs.Waiting,
    }
    assert jobs.complete(store.engine, claim, outcomes[state](**kwargs))


def test_a_failed_event_shows_quickbooks_reason_and_the_hint(
    admin: TestClient, store: Store
) -> None:
    refusal = Failure("6140", "QuickBooks refused it: Duplicate Document Number.", "Renumber.")
    outcome(store, "evt_failed", "failed", failure=refusal)
    later = utcnow() + timedelta(minutes=5)
    transient = Failure("transient", "QuickBooks answered 503.")
    outcome(store, "evt_again", "queued", failure=transient, run_after=later)

    listed = admin.get("/v1/events").json()
    assert [e["event_id"] for e in listed["items"]] == ["evt_again", "evt_failed"]
    assert listed["counts"] == {
        "queued": 1, "running": 0, "waiting": 0, "review": 0, "done": 0, "mismatch": 0, "failed": 1,
        "ignored": 0,
    }  # fmt: skip
    assert listed["next_before"] is None

    failed = admin.get("/v1/events/evt_failed").json()
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["record_kind"] == "invoice"
    assert failed["record_id"] == "inv_evt_failed"
    assert failed["error"] == {"code": "6140", "message": refusal.message, "hint": "Renumber."}
    assert failed["last_error"] is None
    assert failed["next_attempt_at"] is None

    again = admin.get("/v1/events/evt_again").json()
    assert again["status"] == "queued"
    assert again["error"] is None
    assert again["last_error"] == "QuickBooks answered 503."
    assert again["next_attempt_at"].startswith(later.strftime("%Y-%m-%dT%H:%M"))

    only = admin.get("/v1/events", params={"status": "failed"}).json()["items"]
    assert [e["event_id"] for e in only] == ["evt_failed"]
    first = admin.get("/v1/events", params={"limit": 1}).json()
    assert first["next_before"] == "evt_again"
    rest = admin.get("/v1/events", params={"before": "evt_again"}).json()
    assert [e["event_id"] for e in rest["items"]] == ["evt_failed"]


def test_retry_and_skip_answer_a_report_and_are_audited_under_the_operator(
    admin: TestClient, store: Store
) -> None:
    outcome(store, "evt_1", "failed", failure=Failure("6000", "Refused."))
    outcome(store, "evt_2", "failed", failure=Failure("6000", "Refused."))

    retried = admin.post("/v1/events/retry", json={"event_ids": ["evt_1", "evt_1"]})
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"action": "retry", "event_ids": ["evt_1"], "count": 1}
    assert admin.get("/v1/events/evt_1").json()["status"] == "queued"

    refused = admin.post("/v1/events/retry", json={"event_ids": ["evt_2", "evt_1"]})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert "Event evt_1 is queued, so it cannot be retried." in refused.json()["detail"]
    assert refused.json()["hint"]
    assert admin.get("/v1/events/evt_2").json()["status"] == "failed"  # nothing changed

    skipped = admin.post("/v1/events/skip", json={"all_failed": True})
    assert skipped.json() == {"action": "skip", "event_ids": ["evt_2"], "count": 1}
    shown = admin.get("/v1/events/evt_2").json()
    assert shown["status"] == "ignored"
    assert shown["error"]["code"] == "skipped"

    none = admin.post("/v1/events/retry", json={"all_failed": True})
    assert none.json() == {"action": "retry", "event_ids": [], "count": 0}
    unknown_field = admin.post("/v1/events/retry", json={"ids": ["evt_2"]})
    assert unknown_field.status_code == 400

    with store.session() as session:
        entries = [e for e in recent_audit(session) if e.action.startswith("events.")]
    assert [(e.action, e.actor) for e in entries] == [
        ("events.skip", "unverified, says dana@cli"),
        ("events.retry", "unverified, says dana@cli"),
    ]
