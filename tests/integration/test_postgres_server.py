"""PostgreSQL as the store, on a real server: two instances migrating at once, backup's pointer
to pg_dump, and an outage while serving (503 + Retry-After, readiness, recovery, nothing lost).

These need a PostgreSQL server: they run in the PostgreSQL pass (``--store=postgres``, which
`tasks.py test` runs) and skip with a sentence in the SQLite one.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from appliance.storage.keyring import Keyring, save_keyring
from appliance.storage.models import Event
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import connected_appliance
from tests.harness.jobroutr import Sender, created
from tests.harness.postgres import PostgresServer, postgres_server
from tests.harness.processes import APPLIANCE, appliance_env, free_port, wait_until
from tests.harness.service import read_output
from tests.harness.store import queue_empty, stored, webhook_secret
from tests.harness.stores import POSTGRES, STORES, store_env

pytestmark = pytest.mark.stores


@pytest.fixture
def on_postgres(store_kind: str) -> None:
    if store_kind != POSTGRES:
        pytest.skip("needs a PostgreSQL server: runs in the PostgreSQL pass (--store=postgres)")


def instance_env(base: Path, database_url: str, password_file: Path) -> dict[str, str]:
    """One appliance's settings (its own state directory and key) on a shared database."""
    state = base / "state"
    state.mkdir(mode=0o700, parents=True)
    save_keyring(state / "keyring.json", Keyring.generate(), create_only=True)
    return {
        "APPLIANCE_STATE_DIR": str(state),
        "APPLIANCE_HTTP_PORT": str(free_port()),
        "APPLIANCE_ADMIN_SOCKET": str(base / "admin.sock"),
        "APPLIANCE_QBO_EMULATOR_URL": f"http://127.0.0.1:{free_port()}",
        **store_env(database_url, password_file),
    }


@pytest.mark.usefixtures("on_postgres")
def test_two_instances_migrating_one_new_database_at_once_both_succeed(short_dir: Path) -> None:
    for round_ in range(3):  # a race: a few fresh databases, each migrated by two at once
        store = STORES.store_settings()
        envs = [
            instance_env(short_dir / f"r{round_}i{n}", store["database_url"],
                         store["database_password_file"])
            for n in range(2)
        ]  # fmt: skip
        runs = [
            subprocess.Popen(
                [str(APPLIANCE), "migrate"], env=appliance_env(env), text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for env in envs
        ]  # fmt: skip
        results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
        for code, _, err in results:
            assert code == 0, err
            assert "Traceback" not in err
        said = sorted(out.strip() for _, out, _ in results)
        assert said[0].startswith("Migrated the database schema from empty"), said
        assert said[1].startswith("The database schema is current"), said


@pytest.fixture
def own_server(on_postgres: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (the test stops it), for the appliances it makes."""
    with postgres_server() as server:
        monkeypatch.setattr(STORES, "server", server)
        yield server


@pytest.fixture
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:
        yield emulator


def signed_post(
    http: httpx.Client, secret: str, event_id: str, doc: dict[str, Any]
) -> httpx.Response:
    body = json.dumps(doc)
    stamp = datetime.now(UTC)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, stamp, body),
        "content-type": "application/json",
    }
    return http.post("/webhooks/jobroutr", content=body, headers=headers)


@pytest.mark.timeout(600)
def test_an_outage_while_serving_is_503_with_retry_after_and_nothing_acknowledged_is_lost(
    own_server: PostgresServer, books: RunningEmulator, tmp_path: Path
) -> None:
    with connected_appliance(books, tmp_path / "state") as appliance:
        secret = webhook_secret(appliance.settings)
        sends = [
            (f"evt_outage_{n}", created(f"cust-out-{n}", f"Outage {n} Ltd")) for n in range(150)
        ]
        sender = Sender(appliance.url, secret, sends)
        sender.start()
        wait_until(lambda: len(sender.acknowledged) >= 30, timeout=60, what="30 events in")
        own_server.stop()  # mid-load: the sender goes on sending
        with httpx.Client(base_url=appliance.url, timeout=30) as http:
            refused = signed_post(http, secret, "evt_outage_probe", created("cust-probe", "Probe"))
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert int(refused.headers["retry-after"]) > 0
            assert "database" in refused.json()["detail"]
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert "database" in ready.json()["detail"]
            assert http.get("/healthz").status_code == 200  # alive: systemd leaves it be
            time.sleep(3)  # the workers meet the outage too
            own_server.restart()
            wait_until(
                lambda: http.get("/readyz").status_code == 200, timeout=60,
                what="readiness once the server is back",
            )  # fmt: skip
        sender.join(timeout=300)
        assert not sender.is_alive(), "the sender did not finish"
        assert sender.refusals, "the outage refused nothing: it came too late"
        assert all(refusal.startswith("503 ") for refusal in sender.refusals), sender.refusals[:3]
        assert len(sender.acknowledged) == len(sends)
        wait_until(lambda: queue_empty(appliance.settings), timeout=300, what="the queue to drain")
        done = {e.id for e in stored(appliance.settings, Event) if e.status == "done"}
        assert sender.acknowledged <= done, sorted(sender.acknowledged - done)[:5]
        assert appliance.service is not None
        logged = read_output(appliance.service.out) + read_output(appliance.service.err)
        assert "Traceback" not in logged
        assert logged.count('"store.unreachable"') >= 1
