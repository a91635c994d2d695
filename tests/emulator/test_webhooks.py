"""The emulator notifies a configured URL of changes, signed with intuit-signature."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from appliance.emulator.webhooks import sign
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import wait_until


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Handler", (Receiver,), {"received": received})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/qbo", received
    server.shutdown()


@pytest.mark.parametrize("fmt", ["legacy", "cloudevents"])
def test_a_change_is_notified_and_signed_with_the_verifier_token(
    emulator: RunningEmulator,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
    fmt: str,
) -> None:
    url, received = receiver
    httpx.put(
        emulator.url + "/_emulator/webhooks",
        json={"url": url, "verifier_token": "verifier-123", "format": fmt, "delay_seconds": 0.1},
    ).raise_for_status()
    with emulator.api() as api:
        created = api.post("/customer", json={"DisplayName": "Hooked"}).json()["Customer"]
    wait_until(lambda: bool(received), timeout=10, what="a webhook delivery")
    headers, body = received[0]
    assert headers["intuit-signature"] == sign("verifier-123", body)
    doc = json.loads(body)
    if fmt == "legacy":
        notification = doc["eventNotifications"][0]
        assert notification["realmId"] == emulator.realm
        entity = notification["dataChangeEvent"]["entities"][0]
        assert (entity["name"], entity["id"], entity["operation"]) == (
            "Customer",
            created["Id"],
            "Create",
        )
    else:
        (event,) = doc
        assert event["specversion"] == "1.0"
        assert event["type"] == "qbo.customer.created.v1"
        assert event["intuitentityid"] == created["Id"]
        assert event["intuitaccountid"] == emulator.realm
        assert headers["content-type"] == "application/cloudevents+json"


def test_cloudevents_is_the_format_unless_legacy_is_asked_for(
    emulator: RunningEmulator,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """Intuit made CloudEvents mandatory in 2026 (FACTS §7): a receiver tested against the
    emulator's default must be tested against what QBO sends now."""
    url, received = receiver
    settings = httpx.put(
        emulator.url + "/_emulator/webhooks",
        json={"url": url, "verifier_token": "verifier-123", "delay_seconds": 0.1},
    )
    settings.raise_for_status()
    with emulator.api() as api:
        created = api.post("/customer", json={"DisplayName": "Default format"}).json()["Customer"]
    wait_until(lambda: bool(received), timeout=10, what="a webhook delivery")
    headers, body = received[0]
    assert headers["content-type"] == "application/cloudevents+json"
    (event,) = json.loads(body)
    assert (event["type"], event["intuitentityid"]) == ("qbo.customer.created.v1", created["Id"])
