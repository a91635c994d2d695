"""`appliance events review` as an operator runs it, against a real service connected to the
emulator: the events in review with both records side by side, why it asks, the name a new record
would get and the commands that answer; a decision carried out by the push (linked: the event ends
done on the QuickBooks record shown; skipped: ignored), kept with the event and in the audit log;
what cannot be decided refused with a sentence and a hint. `appliance status` says how many wait.

The events are put in review by ``plant_review``, as a push that asked leaves them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.core import review as cases
from appliance.storage.models import AuditEntry
from tests.harness.cli import invoke
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.store import plant_review, stored

pytestmark = pytest.mark.slow


def case_for(name: str, qbo_id: str, *, email: str, create: bool = True) -> cases.ReviewCase:
    ours = {"id": "x", "display_name": name, "email": email, "phone": "(555) 010-2000"}
    theirs = {"display_name": name, "email": "someone@else.example", "balance": "120.00"}
    choices = {cases.LINK: f"Link to QuickBooks' {name} ({qbo_id})", cases.SKIP: "Skip"}
    if create:
        choices[cases.CREATE] = f"Create '{name} (2)'"
    return cases.ReviewCase(
        kind="customer",
        reason=cases.NAME,
        message=f"QuickBooks has a customer named '{name}', and nothing else agrees.",
        jobroutr=cases.summary("customer", ours),
        candidate=cases.summary("customer", theirs, qbo_id=qbo_id),
        create_as=f"{name} (2)" if create else None,
        choices=choices,
    )


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:
        yield emulator


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path) as running:
        yield running


def customer(books: RunningEmulator, name: str) -> str:
    with books.api() as api:
        answer = api.post("/customer", json={"DisplayName": name})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["Customer"]["Id"])


def decisions(gateway: Gateway) -> list[dict]:
    return [e.detail for e in stored(gateway.settings, AuditEntry) if e.action == "events.decide"]


def test_the_operator_sees_both_records_and_links(gateway: Gateway, books: RunningEmulator) -> None:
    qbo_id = customer(books, "Rowan Review")
    case = case_for("Rowan Review", qbo_id, email="rowan@jobroutr.example")
    plant_review(gateway.settings, "evt_cli_r1", "customer", "cus_rr1", case)

    status = invoke("status", env=gateway.env)
    assert "1 event waits for your decision" in status.stdout
    assert "appliance events review" in status.stdout
    listed = invoke("events", "--status", "review", env=gateway.env)
    assert listed.exit_code == 0, listed.stderr
    assert "evt_cli_r1" in listed.stdout
    assert "appliance events review evt_cli_r1" in listed.stdout

    shown = invoke("events", "review", env=gateway.env)
    assert shown.exit_code == 0, shown.stderr
    out = shown.stdout
    assert "1 event waits for your decision" in out
    assert case.message in out
    lines = out.splitlines()
    assert any(line.split()[:2] == ["JobRoutr", "QuickBooks"] for line in lines)
    [email] = [line for line in lines if "Email" in line]
    assert email.lstrip().startswith("*")  # they differ: marked
    assert "rowan@jobroutr.example" in email
    assert "someone@else.example" in email
    [name] = [line for line in lines if "Name  " in line]
    assert not name.lstrip().startswith("*")
    assert name.count("Rowan Review") == 2
    assert "A new record would be named: Rowan Review (2)" in out
    for flag in ("--link", "--create", "--skip"):
        assert f"appliance events review evt_cli_r1 {flag}" in out

    one = invoke("events", "review", "evt_cli_r1", env=gateway.env)
    assert one.exit_code == 0
    assert "Rowan Review (2)" in one.stdout

    linked = invoke("events", "review", "evt_cli_r1", "--link", env=gateway.env)
    assert linked.exit_code == 0, linked.stderr
    assert f"Event evt_cli_r1: linked to QuickBooks customer {qbo_id}." in linked.stdout
    [event] = gateway.settle("evt_cli_r1")
    assert (event["status"], event["qbo_id"]) == ("done", qbo_id)  # the job ran again
    assert gateway.link("customer", "cus_rr1") == qbo_id
    after = json.loads(invoke("events", "show", "evt_cli_r1", "--json", env=gateway.env).stdout)
    assert after["decision"]["action"] == "link"
    assert after["decision"]["qbo_id"] == qbo_id
    assert "Decided:" in invoke("events", "show", "evt_cli_r1", env=gateway.env).stdout
    [audited] = decisions(gateway)
    assert (audited["decision"], audited["qbo_id"], audited["events"]) == (
        "link",
        qbo_id,
        ["evt_cli_r1"],
    )
    assert "No events wait" in invoke("events", "review", env=gateway.env).stdout


def test_a_skip_ends_ignored_and_what_cannot_be_decided_is_refused(
    gateway: Gateway, books: RunningEmulator
) -> None:
    case = case_for("Sage Review", "4242", email="sage@jobroutr.example", create=False)
    plant_review(gateway.settings, "evt_cli_r2", "customer", "cus_rr2", case)

    both = invoke("events", "review", "evt_cli_r2", "--link", "--skip", env=gateway.env)
    assert both.exit_code == 2
    assert "Choose one answer" in both.stderr
    alone = invoke("events", "review", "evt_cli_r2", "--skip", "--qbo-id", "9", env=gateway.env)
    assert alone.exit_code == 2
    assert "--qbo-id goes with --link" in alone.stderr
    no_id = invoke("events", "review", "--skip", env=gateway.env)
    assert no_id.exit_code == 2

    offered = invoke("events", "review", "evt_cli_r2", "--create", env=gateway.env)
    assert offered.exit_code == 1
    assert "not one of the choices" in offered.stderr
    assert "Hint: `appliance events review evt_cli_r2` shows the choices." in offered.stderr
    unknown = invoke("events", "review", "evt_nobody", "--skip", env=gateway.env)
    assert unknown.exit_code == 1
    assert "no event 'evt_nobody'" in unknown.stderr
    assert "Hint:" in unknown.stderr
    assert gateway.event("evt_cli_r2")["status"] == "review"  # nothing changed

    skipped = invoke("events", "review", "evt_cli_r2", "--skip", env=gateway.env)
    assert skipped.exit_code == 0, skipped.stderr
    assert "never written to QuickBooks" in skipped.stdout
    event = gateway.event("evt_cli_r2")
    assert event["status"] == "ignored"
    assert event["qbo_id"] is None
    assert [d["decision"] for d in decisions(gateway)] == ["skip"]

    again = invoke("events", "review", "evt_cli_r2", "--skip", env=gateway.env)
    assert again.exit_code == 1
    assert "Event evt_cli_r2 is ignored, so it cannot be decided." in again.stderr
    shown = invoke("events", "review", "evt_cli_r2", env=gateway.env)
    assert "it waits for no decision" in shown.stdout
