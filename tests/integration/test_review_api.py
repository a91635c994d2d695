"""The admin API's answer to a question for the operator (an event in ``review``), in-process:
POST /v1/events/{id}/decide links, creates or skips, audited under the operator's name, and the
push runs the job again with the decision (a stand-in customer push records what it was handed);
an unknown event is a 404, one not in review or a choice not offered a 409, a bad body a 422."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from appliance.config import Settings
from appliance.core import review as cases
from appliance.core.kinds import CUSTOMER
from appliance.gateway.app import create_admin_app
from appliance.gateway.runtime import Runtime
from appliance.storage.models import Company
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push import Pusher
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.outcome import Ask
from appliance.sync.push.registry import BY_EVENT
from tests.harness.store import plant_review, recent_audit

REALM = "9341453050071776"
PROBLEM = "application/problem+json"
JOHN = {"id": "cus_js1", "display_name": "John Smith", "email": "john@example.com"}
STRANGER = {"display_name": "John Smith", "email": "js@elsewhere.example", "balance": "120.00"}


def john_case(create_as: str | None = "John Smith (2)") -> cases.ReviewCase:
    choices = {cases.LINK: "Link to QuickBooks' John Smith (58)", cases.SKIP: "Skip"}
    if create_as:
        choices[cases.CREATE] = f"Create {create_as!r}"
    return cases.ReviewCase(
        kind="customer",
        reason=cases.NAME,
        message="QuickBooks has a customer named 'John Smith', and nothing else agrees.",
        jobroutr=cases.summary("customer", JOHN),
        candidate=cases.summary("customer", STRANGER, qbo_id="58"),
        create_as=create_as,
        choices=choices,
    )


class NoBooks:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"QuickBooks was called ({name})")


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[cases.Decision | None]:
    """A stand-in customer push: asks without a decision, writes as the decision says."""
    decisions: list[cases.Decision | None] = []

    async def push(job: PushJob) -> Written:
        decisions.append(job.decision)
        if job.decision is None:
            raise Ask(john_case())
        qbo_id = job.decision.qbo_id or "901"
        return Written(qbo_id, job.link(CUSTOMER, qbo_id))

    monkeypatch.setitem(
        BY_EVENT, "customer.created", KindPush(CUSTOMER, ("customer.created",), push)
    )
    return decisions


@pytest.fixture
def admin(settings: Settings, store: Store) -> Iterator[TestClient]:
    with store.session() as session:
        session.add(Company(realm_id=REALM, environment="sandbox", connected_at=utcnow()))
        session.commit()
    runtime = Runtime(settings, store)  # not started: the test runs the push itself
    try:
        with TestClient(create_admin_app(settings, store, runtime)) as client:
            client.headers["X-Appliance-Operator"] = "dana@cli"
            yield client
    finally:
        asyncio.run(runtime.aclose())


def push_once(store: Store) -> bool:
    return asyncio.run(Pusher(store, NoBooks()).run_one("w"))  # type: ignore[arg-type]


def test_link_is_answered_with_the_event_audited_and_pushed_with_the_decision(
    admin: TestClient, settings: Settings, store: Store, seen: list[cases.Decision | None]
) -> None:
    plant_review(settings, "evt_r1", "customer", "cus_js1", john_case())
    shown = admin.get("/v1/events/evt_r1").json()
    assert shown["status"] == "review"
    assert shown["review"]["candidate"]["qbo_id"] == "58"
    assert admin.get("/v1/events", params={"status": "review"}).json()["counts"]["review"] == 1

    answered = admin.post("/v1/events/evt_r1/decide", json={"action": "link"})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["status"] == "queued"
    assert body["decision"]["action"] == "link"
    assert body["decision"]["qbo_id"] == "58"
    assert body["decision"]["by"] == "unverified, says dana@cli"  # in-process: no peer

    assert push_once(store)
    decision = seen[-1]
    assert decision is not None
    assert (decision.action, decision.qbo_id) == ("link", "58")
    done = admin.get("/v1/events/evt_r1").json()
    assert (done["status"], done["qbo_id"]) == ("done", "58")
    with store.session() as session:
        [entry] = [e for e in recent_audit(session) if e.action == "events.decide"]
    assert entry.actor == "unverified, says dana@cli"
    assert entry.detail["events"] == ["evt_r1"]
    assert (entry.detail["decision"], entry.detail["qbo_id"]) == ("link", "58")


def test_link_to_another_id_create_and_skip(
    admin: TestClient, settings: Settings, store: Store, seen: list[cases.Decision | None]
) -> None:
    plant_review(settings, "evt_r2", "customer", "cus_js2", john_case())
    plant_review(settings, "evt_r3", "customer", "cus_js3", john_case())
    plant_review(settings, "evt_r4", "customer", "cus_js4", john_case())

    other = admin.post("/v1/events/evt_r2/decide", json={"action": "link", "qbo_id": "77"})
    assert other.json()["decision"]["qbo_id"] == "77"
    created = admin.post("/v1/events/evt_r3/decide", json={"action": "create"}).json()
    assert created["decision"]["name"] == "John Smith (2)"
    skipped = admin.post("/v1/events/evt_r4/decide", json={"action": "skip"}).json()
    assert skipped["status"] == "ignored"
    assert skipped["error"]["code"] == "skipped"

    while push_once(store):
        pass
    assert [(d.action, d.qbo_id, d.name) for d in seen if d] == [
        ("link", "77", None),
        ("create", None, "John Smith (2)"),
    ]  # the skipped one never ran
    assert admin.get("/v1/events/evt_r4").json()["status"] == "ignored"
    with store.session() as session:
        decided = [
            e.detail["decision"] for e in recent_audit(session) if e.action == "events.decide"
        ]
    assert sorted(decided) == ["create", "link", "skip"]


def test_what_cannot_be_decided_is_a_problem_with_a_hint(
    admin: TestClient, settings: Settings, store: Store, seen: list[cases.Decision | None]
) -> None:
    plant_review(settings, "evt_r5", "customer", "cus_js5", john_case(create_as=None))

    unknown = admin.post("/v1/events/evt_nope/decide", json={"action": "skip"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith(PROBLEM)
    assert "no event 'evt_nope'" in unknown.json()["detail"]
    assert unknown.json()["hint"]

    offered = admin.post("/v1/events/evt_r5/decide", json={"action": "create"})
    assert offered.status_code == 409
    assert offered.headers["content-type"].startswith(PROBLEM)
    assert "not one of the choices" in offered.json()["detail"]
    assert "appliance events review evt_r5" in offered.json()["hint"]

    for bad in ({"action": "merge"}, {}, {"action": "skip", "qbo_id": "5"}, {"act": "link"}):
        answer = admin.post("/v1/events/evt_r5/decide", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert answer.json()["hint"]
    garbled = admin.post("/v1/events/evt_r5/decide", content=b"{not json")
    assert garbled.status_code == 422
    assert admin.get("/v1/events/evt_r5").json()["status"] == "review"  # nothing changed

    admin.post("/v1/events/evt_r5/decide", json={"action": "skip"})
    again = admin.post("/v1/events/evt_r5/decide", json={"action": "skip"})
    assert again.status_code == 409
    assert "Event evt_r5 is ignored, so it cannot be decided." in again.json()["detail"]
    assert "appliance events review" in again.json()["hint"]
    with store.session() as session:
        assert len([e for e in recent_audit(session) if e.action == "events.decide"]) == 1
