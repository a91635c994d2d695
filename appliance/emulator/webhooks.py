"""QBO webhooks out: change notifications to a configured URL, signed like Intuit signs them.

``intuit-signature`` is base64(HMAC-SHA256(verifier token, raw body)) (FACTS §7, checked against
Intuit's test vectors). Two body formats: the legacy ``eventNotifications`` object (one realm per
notification) and the CloudEvents array (``qbo.<entity>.<verb>.v1``), the default: Intuit made
CloudEvents mandatory for webhooks in 2026 (FACTS §7), so a new app receives only that; legacy is
an option for testing a receiver written before. Changes are gathered for
``delay_seconds`` and sent together, as QBO aggregates them; a failed delivery is retried a few
times with growing waits, then dropped (QBO retries for days; a test does not wait that long).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import msgspec

from appliance.emulator.clock import COMPANY_TZ, Clock

VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}
RETRY_WAITS = (1.0, 2.0, 5.0)


def sign(verifier_token: str, body: bytes) -> str:
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class WebhookConfig:
    url: str = ""
    verifier_token: str = ""
    format: Literal["legacy", "cloudevents"] = "cloudevents"
    delay_seconds: float = 1.0

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown webhook setting {key!r}")
            if key == "format" and value not in ("legacy", "cloudevents"):
                raise ValueError("format must be legacy or cloudevents")
            if key == "delay_seconds" and (
                not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
            ):
                raise ValueError("delay_seconds must be a number >= 0")
            if key in ("url", "verifier_token") and not isinstance(value, str):
                raise ValueError(f"{key} must be a string")
            setattr(self, key, value)

    def public(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["verifier_token"] = "set" if self.verifier_token else ""
        return doc


@dataclass(frozen=True)
class Change:
    realm_id: str
    entity: str
    id: str
    operation: str
    at: float


def _legacy_time(epoch: float) -> str:
    """The legacy format writes the offset without a colon: ``2015-10-05T14:42:19-0700``."""
    moment = datetime.fromtimestamp(epoch, COMPANY_TZ)
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def legacy_bodies(changes: list[Change]) -> list[dict[str, Any]]:
    by_realm: dict[str, list[Change]] = {}
    for change in changes:
        by_realm.setdefault(change.realm_id, []).append(change)
    return [
        {
            "eventNotifications": [
                {
                    "realmId": realm,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": c.entity,
                                "id": c.id,
                                "operation": c.operation,
                                "lastUpdated": _legacy_time(c.at),
                            }
                            for c in items
                        ]
                    },
                }
            ]
        }
        for realm, items in by_realm.items()
    ]


def cloudevents_body(changes: list[Change]) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "intuit.emulator",
            "type": f"qbo.{c.entity.lower()}.{VERBS.get(c.operation, 'updated')}.v1",
            "datacontenttype": "application/json",
            "time": datetime.fromtimestamp(c.at, UTC).isoformat().replace("+00:00", "Z"),
            "intuitentityid": c.id,
            "intuitaccountid": c.realm_id,
            "data": {},
        }
        for c in changes
    ]


class Notifier:
    def __init__(self, clock: Clock, config: WebhookConfig | None = None) -> None:
        self.clock = clock
        self.config = config or WebhookConfig()
        self.pending: list[Change] = []
        self.sent = 0
        self.failed = 0
        self._wake = asyncio.Event()

    def record(self, realm_id: str, entity: str, rid: str, operation: str) -> None:
        if self.config.url:
            self.pending.append(Change(realm_id, entity, rid, operation, self.clock.time()))
            self._wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await asyncio.sleep(self.config.delay_seconds)
                changes, self.pending = self.pending, []
                if not changes or not self.config.url:
                    continue
                if self.config.format == "cloudevents":
                    bodies: list[Any] = [cloudevents_body(changes)]
                    media = "application/cloudevents+json"
                else:
                    bodies = legacy_bodies(changes)
                    media = "application/json"
                for body in bodies:
                    await self._deliver(client, msgspec.json.encode(body), media)

    async def _deliver(self, client: httpx.AsyncClient, raw: bytes, media: str) -> None:
        headers = {
            "content-type": media,
            "intuit-signature": sign(self.config.verifier_token, raw),
            "intuit-created-time": self.clock.now().isoformat(),
            "intuit-t-id": str(uuid.uuid4()),
        }
        for wait in (0.0, *RETRY_WAITS):
            await asyncio.sleep(wait)
            try:
                response = await client.post(self.config.url, content=raw, headers=headers)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                self.sent += 1
                return
        self.failed += 1
