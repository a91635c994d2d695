"""`appliance events` as an operator runs it, against a real service that is not connected to
QuickBooks: events JobRoutr sent end up waiting for a connection, and the operator lists, shows,
skips and retries them; the admin API refuses what it cannot do with a sentence and a hint."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from appliance.config import Settings
from tests.harness.cli import invoke
from tests.harness.processes import APPLIANCE, appliance_env, run_appliance, wait_until
from tests.harness.service import Service, appliance_settings, env_for, start
from tests.harness.store import plant_mismatch

pytestmark = pytest.mark.slow

CONNECTION = "a QuickBooks connection"


class Running:
    def __init__(
        self, service: Service, api_key: str, webhook_secret: str, settings: Settings
    ) -> None:
        self.service = service
        self.settings = settings
        self.env = service.env
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.admin = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(service.socket)), base_url="http://appliance"
        )

    def send(self, event_id: str, record_id: str, name: str) -> None:
        doc = {
            "type": "customer.created",
            "timestamp": "2026-11-25T10:00:00Z",
            "data": {"id": record_id, "company_name": name},
        }
        body = json.dumps(doc)
        stamp = datetime.now(UTC)
        response = httpx.post(
            self.service.url + "/webhooks/jobroutr",
            content=body.encode(),
            headers={
                "webhook-id": event_id,
                "webhook-timestamp": str(int(stamp.timestamp())),
                "webhook-signature": Webhook(self.webhook_secret).sign(event_id, stamp, body),
                "content-type": "application/json",
            },
        )
        assert response.status_code == 202, response.text

    def event(self, event_id: str) -> dict:
        response = self.admin.get(f"/v1/events/{event_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, event_id: str, status: str) -> dict:
        wait_until(
            lambda: self.event(event_id)["status"] == status,
            what=f"event {event_id} to be {status}",
        )
        return self.event(event_id)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`appliance ...` with no terminal on stdin, as from a script or a cron job."""
    return subprocess.run(
        [str(APPLIANCE), *args],
        env=appliance_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service for the module: starting one takes longer than everything tested here."""
    base = tmp_path_factory.mktemp("events")
    settings = appliance_settings(base / "state")
    env = env_for(settings, HOME=str(base))
    init = run_appliance("init", env=env)
    assert init.returncode == 0, init.stderr
    api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))
    webhook_secret = next(w for w in init.stdout.split() if w.startswith("whsec_"))
    service = start(env, settings)
    state = Running(service, api_key, webhook_secret, settings)
    state.send("evt_cli_1", "cus_cli_1", "Alberta Street Bakery")
    state.send("evt_cli_2", "cus_cli_2", "Division Street Dental")
    state.send("evt_cli_3", "cus_cli_3", "Hawthorne Hardware")
    try:
        yield state
    finally:
        state.admin.close()
        if service.process.poll() is None:
            service.stop()
        shutil.rmtree(settings.admin_socket.parent, ignore_errors=True)


def test_events_lists_the_waiting_events_with_their_reason(running: Running) -> None:
    for event_id in ("evt_cli_1", "evt_cli_2", "evt_cli_3"):
        running.wait_for(event_id, "waiting")

    result = cli("events", "--json", env=running.env)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    mine = {e["event_id"]: e for e in listed["items"] if e["event_id"].startswith("evt_cli_")}
    assert set(mine) == {"evt_cli_1", "evt_cli_2", "evt_cli_3"}
    for event in mine.values():
        assert event["status"] == "waiting"
        assert CONNECTION in event["waiting_for"]
        assert event["next_attempt_at"]
        assert event["type"] == "customer.created"
        assert event["error"] is None
    assert mine["evt_cli_2"]["record_id"] == "cus_cli_2"
    assert [e["event_id"] for e in listed["items"]][:3] == ["evt_cli_3", "evt_cli_2", "evt_cli_1"]
    assert listed["counts"]["waiting"] >= 3
    assert set(listed["counts"]) >= {"queued", "running", "waiting", "done", "failed", "ignored"}

    human = cli("events", "--status", "waiting", env=running.env)
    assert human.returncode == 0, human.stderr
    assert "evt_cli_1" in human.stdout
    assert "customer.created" in human.stdout
    assert f"Waiting for {CONNECTION}" in human.stdout
    assert "waiting" in human.stdout.splitlines()[-1]  # the summary of counts

    page = json.loads(cli("events", "--limit", "2", "--json", env=running.env).stdout)
    assert len(page["items"]) == 2
    assert page["next_before"] == page["items"][-1]["event_id"]
    older = cli("events", "--before", page["next_before"], "--json", env=running.env)
    assert page["next_before"] not in older.stdout
    assert "evt_cli_1" in older.stdout


def test_events_show_one_event(running: Running) -> None:
    running.wait_for("evt_cli_1", "waiting")
    human = cli("events", "show", "evt_cli_1", env=running.env)
    assert human.returncode == 0, human.stderr
    assert "Event evt_cli_1 (customer.created)" in human.stdout
    assert "customer cus_cli_1" in human.stdout
    assert CONNECTION in human.stdout
    assert "appliance events retry evt_cli_1" in human.stdout

    as_json = json.loads(cli("events", "show", "evt_cli_1", "--json", env=running.env).stdout)
    assert as_json["event_id"] == "evt_cli_1"
    assert as_json["status"] == "waiting"

    missing = cli("events", "show", "evt_nowhere", env=running.env)
    assert missing.returncode == 1
    assert "No event 'evt_nowhere' was received." in missing.stderr
    assert "Hint:" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_skip_ends_an_event_ignored_and_the_pull_api_shows_it(running: Running) -> None:
    running.wait_for("evt_cli_2", "waiting")
    skipped = cli("events", "skip", "evt_cli_2", "--yes", env=running.env)
    assert skipped.returncode == 0, skipped.stderr
    assert "Skipped 1 event" in skipped.stdout

    event = running.event("evt_cli_2")
    assert event["status"] == "ignored"
    assert event["error"]["code"] == "skipped"
    pulled = httpx.get(
        running.service.url + "/api/v1/events/evt_cli_2",
        headers={"Authorization": f"Bearer {running.api_key}"},
    )
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["status"] == "ignored"

    again = cli("events", "retry", "evt_cli_2", env=running.env)
    assert again.returncode == 1
    assert "Event evt_cli_2 is ignored, so it cannot be retried." in again.stderr
    hint = "Hint: Only failed, waiting, in-review or mismatched events can be retried"
    assert hint in again.stderr
    assert "Traceback" not in again.stderr
    assert running.event("evt_cli_2")["status"] == "ignored"


def test_skip_without_a_terminal_or_yes_is_refused(running: Running) -> None:
    running.wait_for("evt_cli_3", "waiting")
    refused = invoke("events", "skip", "evt_cli_3", env=running.env)
    assert refused.exit_code == 2
    assert "no terminal" in refused.stderr
    assert "--yes" in refused.stderr
    assert running.event("evt_cli_3")["status"] == "waiting"


def test_retry_of_a_waiting_event_queues_it_again(running: Running) -> None:
    running.wait_for("evt_cli_3", "waiting")
    before = running.event("evt_cli_3")["updated_at"]
    time.sleep(0.01)
    retried = cli("events", "retry", "evt_cli_3", env=running.env)
    assert retried.returncode == 0, retried.stderr
    assert "Retried 1 event" in retried.stdout
    assert "evt_cli_3" in retried.stdout
    # Not connected, so the worker (nudged) parks it again at once.
    wait_until(
        lambda: (
            running.event("evt_cli_3")["status"] == "waiting"
            and running.event("evt_cli_3")["updated_at"] != before
        ),
        what="the retried event to be looked at again",
    )


def test_retry_all_failed_with_none_failed_reports_zero(running: Running) -> None:
    result = cli("events", "retry", "--all-failed", env=running.env)
    assert result.returncode == 0, result.stderr
    assert "Retried 0 events" in result.stdout

    skip = cli("events", "skip", "--all-failed", "--yes", "--json", env=running.env)
    assert skip.returncode == 0, skip.stderr
    assert json.loads(skip.stdout) == {"action": "skip", "event_ids": [], "count": 0}


def test_bad_arguments_get_a_sentence_and_exit_2(running: Running) -> None:
    bad = invoke("events", "--status", "stuck", env=running.env)
    assert bad.exit_code == 2
    assert "Invalid value for '--status'" in bad.stderr
    assert "failed" in bad.stderr

    for args in (["retry"], ["retry", "evt_cli_1", "--all-failed"], ["skip", "--yes"]):
        result = invoke("events", *args, env=running.env)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("Error: ")
        assert "Hint:" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_admin_api_answers_problems_for_what_it_cannot_do(running: Running) -> None:
    admin = running.admin
    for params, word in (({"status": "stuck"}, "status"), ({"limit": 501}, "limit")):
        response = admin.get("/v1/events", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert word in response.json()["detail"]
    missing = admin.get("/v1/events/evt_nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["hint"]
    for body in ({}, {"event_ids": ["evt_cli_1"], "all_failed": True}):
        response = admin.post("/v1/events/retry", json=body)
        assert response.status_code == 400
        assert "event_ids" in response.json()["detail"]
    conflict = admin.post("/v1/events/skip", json={"event_ids": ["evt_cli_1", "evt_nowhere"]})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")
    problem = conflict.json()
    assert "There is no event 'evt_nowhere'" in problem["detail"]
    assert "No event was skipped." in problem["detail"]
    assert "appliance events" in problem["hint"]
    assert running.event("evt_cli_1")["status"] != "ignored"  # all or nothing


def test_events_when_the_service_is_not_running_says_how_to_start_it(
    running: Running, short_dir: Path
) -> None:
    env = {**running.env, "APPLIANCE_ADMIN_SOCKET": str(short_dir / "nobody.sock")}
    for args in (["events"], ["events", "show", "evt_cli_1"], ["events", "retry", "--all-failed"]):
        result = invoke(*args, env=env)
        assert result.exit_code == 3, args
        assert "The appliance service is not running" in result.stderr
        assert "appliance serve" in result.stderr
        assert "Traceback" not in result.stderr


#: An invoice QuickBooks taxed (the bill had no tax): what a mismatch's event keeps.
FIGURES = {
    "qbo": {"total": "107.25", "tax": "7.25"},
    "jobroutr": {"total": "100.00", "tax": "0.00"},
}


def pulled(running: Running, event_id: str) -> dict:
    response = httpx.get(
        f"{running.service.url}/api/v1/events/{event_id}",
        headers={"Authorization": f"Bearer {running.api_key}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_mismatch_shows_both_figures_cannot_be_skipped_and_is_accepted(
    running: Running,
) -> None:
    plant_mismatch(running.settings, "evt_cli_mm1", "inv_cli_mm1", "171", FIGURES)

    listed = cli("events", "--status", "mismatch", env=running.env)
    assert listed.returncode == 0, listed.stderr
    assert "evt_cli_mm1" in listed.stdout
    assert "QuickBooks: total 107.25, tax 7.25; JobRoutr: total 100.00, tax 0.00" in listed.stdout
    assert "appliance events accept evt_cli_mm1" in listed.stdout  # the hint
    shown = json.loads(cli("events", "show", "evt_cli_mm1", "--json", env=running.env).stdout)
    assert shown["status"] == "mismatch"
    assert shown["qbo_id"] == "171"
    assert shown["mismatch"]["qbo"] == {"total": "107.25", "tax": "7.25"}
    assert shown["mismatch"]["jobroutr"] == {"total": "100.00", "tax": "0.00"}
    pull = pulled(running, "evt_cli_mm1")
    assert pull["status"] == "mismatch"
    assert pull["mismatch"] == {**FIGURES, "accepted_at": None}

    skipped = cli("events", "skip", "evt_cli_mm1", "--yes", env=running.env)
    assert skipped.returncode == 1
    assert "Event evt_cli_mm1 is mismatch, so it cannot be skipped." in skipped.stderr
    assert "appliance events accept evt_cli_mm1" in skipped.stderr
    assert "Traceback" not in skipped.stderr

    accepted = cli("events", "accept", "evt_cli_mm1", env=running.env)
    assert accepted.returncode == 0, accepted.stderr
    assert "Accepted 1 event" in accepted.stdout
    event = running.event("evt_cli_mm1")
    assert event["status"] == "done"
    assert event["mismatch"]["accepted_by"].startswith("uid ")  # who, as the kernel said
    assert event["mismatch"]["accepted_at"]
    human = cli("events", "show", "evt_cli_mm1", env=running.env)
    assert "Accepted by" in human.stdout
    pull = pulled(running, "evt_cli_mm1")
    assert pull["status"] == "done"
    assert pull["mismatch"]["accepted_at"]

    again = cli("events", "accept", "evt_cli_mm1", env=running.env)
    assert again.returncode == 1
    assert "Event evt_cli_mm1 is done, so it cannot be accepted." in again.stderr
    assert "--status mismatch" in again.stderr


def test_a_mismatch_is_retried_and_accept_needs_the_ids(running: Running) -> None:
    plant_mismatch(running.settings, "evt_cli_mm2", "inv_cli_mm2", "172", FIGURES)

    missing = invoke("events", "accept", env=running.env)
    assert missing.exit_code == 2
    empty = running.admin.post("/v1/events/accept", json={"event_ids": []})
    assert empty.status_code == 400
    assert empty.headers["content-type"].startswith("application/problem+json")
    assert empty.json()["hint"]
    refused = running.admin.post("/v1/events/accept", json={"event_ids": ["evt_cli_1"]})
    assert refused.status_code == 409
    assert "cannot be accepted" in refused.json()["detail"]

    retried = cli("events", "retry", "evt_cli_mm2", env=running.env)
    assert retried.returncode == 0, retried.stderr
    assert "Retried 1 event" in retried.stdout
    # Queued again (not connected, the worker parks it): no longer a mismatch, figures gone.
    wait_until(
        lambda: running.event("evt_cli_mm2")["status"] in ("queued", "waiting"),
        what="the retried mismatch to be queued",
    )
    assert running.event("evt_cli_mm2")["mismatch"] is None
