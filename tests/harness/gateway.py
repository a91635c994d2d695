"""A whole appliance ready for JobRoutr: initialised, started as a real process, connected to the
emulator and its accounts imported. ``running_gateway`` hands back a ``Gateway`` (signed events
in, pull API out); ``connected_appliance`` an ``Appliance`` that a test kills and restarts, with
default accounts chosen and the fault suites' fast timing."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from appliance.config import Settings
from tests.harness.cli import connect_link
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.processes import run_appliance, wait_until
from tests.harness.service import Service, appliance_settings, env_for, start
from tests.harness.store import choose_invoice_settings, webhook_secret

FINAL = ("done", "mismatch", "failed", "ignored")


class Gateway:
    """The running service as JobRoutr sees it: signed events in, pull API out."""

    def __init__(self, service: Service, settings: Settings, api_key: str) -> None:
        self.service = service
        self.settings = settings
        self.env = service.env
        self.base = service.url
        self.signer = Webhook(webhook_secret(settings))
        self.http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def send(self, doc: dict[str, Any], event_id: str | None = None) -> str:
        event_id = event_id or f"evt_{uuid.uuid4().hex}"
        body = json.dumps(doc)
        stamp = datetime.now(UTC)
        response = self.http.post(
            "/webhooks/jobroutr",
            content=body.encode(),
            headers={
                "webhook-id": event_id,
                "webhook-timestamp": str(int(stamp.timestamp())),
                "webhook-signature": self.signer.sign(event_id, stamp, body),
                "content-type": "application/json",
            },
        )
        assert response.status_code in (200, 202), response.text
        return event_id

    def event(self, event_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/events/{event_id}")
        response.raise_for_status()
        return dict(response.json())

    def settle(self, *event_ids: str, timeout: float = 60) -> list[dict[str, Any]]:
        wait_until(
            lambda: all(self.event(e)["status"] in FINAL for e in event_ids),
            timeout=timeout,
            what=f"events {event_ids} to settle",
        )
        return [self.event(e) for e in event_ids]

    def in_review(self, event_id: str, timeout: float = 20) -> dict[str, Any]:
        """The event once the push has asked the operator about it (it must ask: an event
        written or failed instead fails the test)."""
        wait_until(
            lambda: self.event(event_id)["status"] in ("review", *FINAL),
            timeout=timeout,
            what=f"event {event_id} to be written or asked about",
        )
        found = self.event(event_id)
        assert found["status"] == "review", found
        return found

    def link(self, kind: str, jobroutr_id: str) -> str | None:
        response = self.http.get(f"/api/v1/links/{kind}/{jobroutr_id}")
        return str(response.json()["qbo_id"]) if response.status_code == 200 else None


@contextlib.contextmanager
def running_gateway(
    books: RunningEmulator,
    base: Path,
    *,
    connect: bool = True,
    port: int | None = None,
    **extra: str,
) -> Iterator[Gateway]:
    """A fresh appliance (its own store) on the emulator: connected and its accounts imported
    unless ``connect`` is False; ``extra`` are more APPLIANCE_* settings. With ``port`` it
    serves there and is its own public address, so a browser sent to its OAuth callback reaches
    it (the emulator must know that redirect URI); else a free port, and the public address
    is the emulator's default redirect's."""
    settings = appliance_settings(base / "state", port)
    public = f"http://127.0.0.1:{port}" if port is not None else "http://127.0.0.1:8780"
    fast = {  # the tests' timing: ``extra`` may set it otherwise (bench/push.py does)
        "APPLIANCE_PUSH_RETRY_SECONDS": "0.2",
        "APPLIANCE_PUSH_DEPENDENCY_WAIT_SECONDS": "30",
    }
    env = env_for(
        settings,
        APPLIANCE_QBO_EMULATOR_URL=books.url,
        APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        APPLIANCE_PUBLIC_URL=public,
        **{**fast, **extra},
    )
    init = run_appliance("init", env=env)
    assert init.returncode == 0, init.stderr
    api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))
    services = [start(env, settings)]
    gateway: Gateway | None = None
    try:
        if connect:
            location = approve(connect_link(env), books.realm)
            assert run_appliance("connect", "--redirect-url", location, env=env).returncode == 0
            imported = run_appliance("import", "accounts", "--wait", "--json", env=env)
            assert imported.returncode == 0, imported.stderr
        gateway = Gateway(services[0], settings, api_key)
        yield gateway
    finally:
        if gateway is not None:
            services.append(gateway.service)  # a test may have restarted it
        for service in services:
            if service.process.poll() is None:
                service.process.kill()
                service.process.wait()
        shutil.rmtree(settings.admin_socket.parent, ignore_errors=True)


def choose_default_accounts(gateway: Gateway) -> tuple[str, str]:
    picked = []
    for kind in ("income", "expense"):
        listed = run_appliance("accounts", "--kind", kind, "--json", env=gateway.env)
        assert listed.returncode == 0, listed.stderr
        picked.append(json.loads(listed.stdout)[0]["qbo_id"])
    chosen = run_appliance(
        "settings", "set", "--income-account", picked[0], "--expense-account", picked[1],
        env=gateway.env,
    )  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    return picked[0], picked[1]


class Appliance:
    def __init__(self, env: dict[str, str], settings: Settings) -> None:
        self.env = env
        self.settings = settings
        self.service: Service | None = None
        self.url = f"http://127.0.0.1:{settings.http_port}"

    def start(self) -> None:
        self.service = start(self.env, self.settings)

    def kill(self) -> None:
        assert self.service is not None
        self.service.process.kill()  # SIGKILL: no clean-up of any kind
        self.service.process.wait()

    def stop(self) -> None:
        if self.service is not None and self.service.process.poll() is None:
            self.service.process.kill()
            self.service.process.wait()


@contextlib.contextmanager
def connected_appliance(books: RunningEmulator, state_dir: Path, **env: str) -> Iterator[Appliance]:
    """An initialised service on ``books``, connected, with accounts imported and default
    accounts chosen: ready to push. ``env`` (APPLIANCE_*) overrides the fast-test settings."""
    settings = appliance_settings(state_dir)
    fast = {
        "APPLIANCE_QBO_EMULATOR_URL": books.url,
        "APPLIANCE_QBO_EMULATOR_EMBEDDED": "false",
        "APPLIANCE_PUBLIC_URL": "http://127.0.0.1:8780",
        "APPLIANCE_QBO_REQUESTS_PER_MINUTE": "6000",
        "APPLIANCE_QBO_BATCH_PER_MINUTE": "600",
        "APPLIANCE_QBO_RETRY_INITIAL_SECONDS": "0.05",
        "APPLIANCE_QBO_THROTTLE_INITIAL_SECONDS": "0.5",
        "APPLIANCE_QBO_TIMEOUT_SECONDS": "5",
        "APPLIANCE_PUSH_WORKERS": "8",
        "APPLIANCE_PUSH_LEASE_SECONDS": "3",
        "APPLIANCE_PUSH_RETRY_SECONDS": "0.2",
    }
    env = env_for(settings, **{**fast, **env})
    assert run_appliance("init", env=env).returncode == 0
    running = Appliance(env, settings)
    running.start()
    try:
        location = approve(connect_link(env), books.realm)
        assert run_appliance("connect", "--redirect-url", location, env=env).returncode == 0
        assert run_appliance("import", "accounts", "--wait", env=env).returncode == 0
        picked = [
            json.loads(run_appliance("accounts", "--kind", kind, "--json", env=env).stdout)[0]
            for kind in ("income", "expense")
        ]
        chosen = run_appliance(
            "settings", "set", "--income-account", picked[0]["qbo_id"],
            "--expense-account", picked[1]["qbo_id"], env=env,
        )  # fmt: skip
        assert chosen.returncode == 0, chosen.stderr
        discounts = next(
            a["Id"]
            for a in books.service.companies[books.realm].rows("Account")
            if a.get("Name") == "Discounts given"
        )
        choose_invoice_settings(
            settings, books.realm, discount_account=discounts, untaxed_code=None
        )
        yield running
    finally:
        running.stop()
        shutil.rmtree(settings.admin_socket.parent, ignore_errors=True)
