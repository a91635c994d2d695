"""What one emulator process holds, and its state file: the companies, the OAuth server, the
limits and injected faults (``Governor``), the webhook notifier and the clock.

``EmulatorService`` is made once per process by ``app.create_emulator_app`` and shared by its HTTP
handlers (``service_of``). With a state file it loads the companies and connections from it and
saves them every ``SAVE_EVERY_SECONDS`` while something changed, and at shutdown.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Request

from appliance.config import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from appliance.emulator import seed
from appliance.emulator.api import ENCODER, Emulator, decode_json
from appliance.emulator.clock import Clock
from appliance.emulator.company import Company
from appliance.emulator.limits import Governor, Limits
from appliance.emulator.oauth import App, OAuthServer, OAuthState
from appliance.emulator.webhooks import Notifier, WebhookConfig

DEFAULT_REALMS = (("9341453050071776", None), ("9341453050071777", "Sandbox Company_US_2"))
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8780/oauth/callback",
    "http://localhost:8780/oauth/callback",
)
STATE_FORMAT = "jobroutr-qbo-emulator/1"
SAVE_EVERY_SECONDS = 2.0


@dataclass
class EmulatorConfig:
    client_id: str = EMULATOR_CLIENT_ID
    client_secret: str = EMULATOR_CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    customers: int = 0
    items: int = 0
    seed: int = 1
    company: str = "us-ast"  # the kind of the seeded companies (seed.KINDS)
    multicurrency: bool = False  # seeded companies with multi-currency on
    state_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)


class EmulatorService:
    """Everything the emulator holds; one per process, shared by its HTTP handlers."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.governor = Governor(config.limits)
        self.notifier = Notifier(self.clock, config.webhooks)
        apps = [App(config.client_id, config.client_secret, list(config.redirect_uris))]
        loaded = self._load() if config.state_file else None
        if loaded is None:
            companies = self._seed()
            self.oauth = OAuthServer(self.clock, apps)
        else:
            companies, oauth_state = loaded
            self.oauth = OAuthServer(self.clock, apps, oauth_state)
        self.api = Emulator(self.clock, companies)
        for company in companies.values():
            company.listeners.append(self._on_change)
        self.dirty = False
        self.token_requests = 0

    @property
    def companies(self) -> dict[str, Company]:
        return self.api.companies

    def _seed(self) -> dict[str, Company]:
        companies: dict[str, Company] = {}
        for index, (realm, name) in enumerate(DEFAULT_REALMS):
            data = (
                seed.generate(
                    self.config.customers,
                    self.config.items,
                    ts=self.clock.stamp,
                    seed=self.config.seed,
                    kind=self.config.company,
                )
                if index == 0
                else seed.sandbox_company(self.clock.stamp, self.config.company)
            )
            if name:
                data["CompanyInfo"][0]["CompanyName"] = name
            companies[realm] = Company(realm, self.clock, data)
            if self.config.multicurrency:
                companies[realm].turn_on_multicurrency()
        return companies

    def new_company(
        self, realm: str, kind: str, name: str | None = None, *, multicurrency: bool = False
    ) -> Company:
        """A freshly seeded sandbox company of this kind under this realm id, replacing any
        company the realm had (its connections stay: tokens are per realm)."""
        data = seed.sandbox_company(self.clock.stamp, kind)
        if name:
            data["CompanyInfo"][0]["CompanyName"] = name
            data["CompanyInfo"][0]["LegalName"] = name
        company = Company(realm, self.clock, data)
        if multicurrency:
            company.turn_on_multicurrency()  # before anyone listens: part of the seed
        company.listeners.append(self._on_change)
        self.companies[realm] = company
        self.api.replays.pop(realm, None)
        self.dirty = True
        return company

    def _on_change(self, realm: str, entity: str, rid: str, operation: str) -> None:
        self.dirty = True
        self.notifier.record(realm, entity, rid, operation)

    # Persistence -------------------------------------------------------------------------------

    def _load(self) -> tuple[dict[str, Company], OAuthState] | None:
        path = self.config.state_file
        if path is None or not path.exists():
            return None
        doc = decode_json(path.read_bytes())
        if doc.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not an emulator state file")
        self.clock.offset = float(doc.get("clock_offset", 0.0))
        companies = {
            realm: Company(realm, self.clock, c["records"], seq=c["seq"])
            for realm, c in doc["companies"].items()
        }
        for realm, c in doc["companies"].items():
            companies[realm].deposited = set(c.get("deposited", []))
        return companies, OAuthState.from_json(doc["oauth"])

    def save(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        doc = {
            "format": STATE_FORMAT,
            "clock_offset": self.clock.offset,
            "companies": {
                realm: {
                    "seq": company.seq,
                    "records": {e: company.rows(e) for e in company.records},
                    "deposited": sorted(company.deposited, key=int),
                }
                for realm, company in self.companies.items()
            },
            "oauth": self.oauth.state.to_json(),
        }
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(ENCODER.encode(doc))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        self.dirty = False

    async def saver(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            if self.dirty:
                self.save()


def service_of(request: Request[Any, Any, Any]) -> EmulatorService:
    """The service behind a Litestar request."""
    service: EmulatorService = request.app.state.service
    return service
