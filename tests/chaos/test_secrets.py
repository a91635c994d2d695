"""Canary secrets planted in every secret slot never appear in logs, console, errors, the database
file, its WAL or backups.

One appliance is run at DEBUG as an operator and JobRoutr would run it, against the emulator in
this process (so the tokens it issues can be read back from its state): init, connect through the
browser callback, imports, signed events with QuickBooks faults on the way, two forced token
refreshes, hostile requests carrying canaries, every admin endpoint the console uses, the console
itself, the CLI, a key rotation, a backup and a disconnect. Everything that came out of it is then
searched for every secret in each shape a leak could take: raw, base64 at any alignment (inside a
Basic header, say), URL-encoded, hex, and any run of 16 characters of it.

Where a secret must appear by design it is exempted there and nowhere else: `appliance init`
prints the API key and webhook secret once, `appliance connect` prints the link that carries the
OAuth state, and the data key lives in its key file (which backups leave out).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import html
import io
import json
import re
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest
from textual import events
from textual.widgets import DataTable, Input, OptionList, Static

from appliance.config import EMULATOR_CLIENT_ID, Settings
from appliance.emulator.app import EmulatorConfig
from appliance.tui.app import ConsoleApp
from tests.harness.bills import figured
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.gateway import Gateway
from tests.harness.jobroutr import created
from tests.harness.processes import free_port, run_appliance, wait_until
from tests.harness.service import env_for, start

pytestmark = pytest.mark.slow

SLOTS = (
    "client_secret",
    "webhook_secret",
    "api_key",
    "access_token",
    "refresh_token",
    "oauth_code",
    "oauth_state",
    "data_key",
)
PLACES = ("logs", "http", "cli", "admin_api", "console", "db_live", "state_files", "backup")
WINDOW = 16  # any leaked run of 23 or more characters contains one whole window
# Intuit-shaped access tokens start with this fixed JWE header: public, not part of the secret.
JWE_HEADER = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0"
URLSAFE = bytes.maketrans(b"+/", b"-_")


def canary(slot: str) -> str:
    return f"canary-{slot}-{secrets.token_hex(16)}"


# The scanner ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    slot: str
    label: str
    value: bytes
    secret_from: int = 0  # where the secret part begins (after a public, fixed prefix)

    def shapes(self) -> dict[bytes, str]:
        """Every byte string whose presence means this secret leaked, each with its shape."""
        value = self.value
        found: dict[bytes, str] = {value: "raw"}
        for shift in range(3):
            # The part of the base64 that does not depend on the bytes around the secret.
            encoded = base64.b64encode(bytes(shift) + value)
            core = encoded[4 if shift else 0 : (shift + len(value)) // 3 * 4]
            found.setdefault(core, "base64")
            found.setdefault(core.translate(URLSAFE), "base64url")
        text = value.decode("latin-1")
        for quoted in (quote(text, safe=""), quote_plus(text), quote(text)):
            found.setdefault(quoted.encode("latin-1"), "url-encoded")
        found.setdefault(value.hex().encode(), "hex")
        part = value[self.secret_from :]
        for at in range(0, max(len(part) - WINDOW, 0) + 1, WINDOW // 2):
            found.setdefault(part[at : at + WINDOW], f"fragment@{at}")
        return {shape: name for shape, name in found.items() if len(shape) >= 12}


def secret(slot: str, label: str, value: str | bytes, secret_from: int = 0) -> Secret:
    raw = value.encode() if isinstance(value, str) else value
    return Secret(slot, label, raw, secret_from)


def unpacked(data: bytes) -> bytes:
    """The bytes and, when they are compressed or an archive, everything inside them too."""
    inner: list[bytes] = []
    if data[:2] == b"\x1f\x8b":
        inner.append(unpacked(gzip.decompress(data)))
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inner += [unpacked(archive.read(name)) for name in archive.namelist()]
    elif data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member)
                if handle is not None:
                    inner.append(unpacked(handle.read()))
    return b"\n".join([data, *inner])


def leaks_in(secrets_: list[Secret], items: list[tuple[str, bytes]]) -> list[str]:
    found = []
    for name, data in items:
        haystack = unpacked(data)
        for planted in secrets_:
            for shape, kind in planted.shapes().items():
                at = haystack.find(shape)
                if at >= 0:
                    context = haystack[max(at - 80, 0) : at + len(shape) + 40]
                    found.append(f"{planted.label} ({kind}) in {name}: ...{context!r}...")
                    break
    return found


# The run ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one appliance's life produced, by place, and the secrets it was given or made."""

    secrets: dict[str, list[Secret]] = field(default_factory=lambda: {s: [] for s in SLOTS})
    places: dict[str, list[tuple[str, bytes]]] = field(
        default_factory=lambda: {p: [] for p in PLACES}
    )
    exempt: set[tuple[str, str]] = field(default_factory=set)  # (slot, item name)
    facts: dict[str, Any] = field(default_factory=dict)

    def plant(self, slot: str, label: str, value: str | bytes, secret_from: int = 0) -> None:
        planted = secret(slot, label, value, secret_from)
        if planted.value not in {s.value for s in self.secrets[slot]}:
            self.secrets[slot].append(planted)

    def saw(self, place: str, name: str, data: str | bytes) -> None:
        self.places[place].append((name, data.encode() if isinstance(data, str) else data))

    def items(self, slot: str, place: str) -> list[tuple[str, bytes]]:
        return [(n, d) for n, d in self.places[place] if (slot, n) not in self.exempt]

    def cli(self, *args: str, env: dict[str, str], name: str | None = None) -> Any:
        result = run_appliance(*args, env=env, timeout=120)
        name = name or "appliance " + " ".join(args)
        self.saw("cli", f"{name} (stdout)", result.stdout)
        self.saw("cli", f"{name} (stderr)", result.stderr)
        return result

    def recorder(self, place: str) -> Callable[[httpx.Response], None]:
        def record(response: httpx.Response) -> None:
            response.read()
            head = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
            name = f"{response.request.method} {response.request.url.path} {response.status_code}"
            self.saw(
                place, name, f"HTTP {response.status_code}\n{head}\n\n".encode() + response.content
            )

        return record


def keyring_keys(path: Path) -> dict[str, bytes]:
    doc = json.loads(path.read_text())
    return {v: base64.b64decode(k) for v, k in doc["keys"].items()}


def copy_store(run: Run, settings: Settings, moment: str) -> None:
    """The store's files as they are this moment, WAL included, while the service writes."""
    database = settings.state_dir / "appliance.db"
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            run.saw("db_live", f"{path.name} {moment}", path.read_bytes())


def product(jobroutr_id: str, name: str) -> dict[str, Any]:
    return {
        "type": "product.created",
        "timestamp": "2026-11-25T11:00:00Z",
        "data": {"id": jobroutr_id, "name": name, "price": "10.00"},
    }


def invoice(jobroutr_id: str, number: str, customer: str, item: str) -> dict[str, Any]:
    line = {"product_id": item, "quantity": "2", "unit_price": "10.00", "description": "x"}
    return {
        "type": "invoice.created",
        "timestamp": "2026-11-25T12:00:00Z",
        "data": figured(
            {
                "id": jobroutr_id,
                "number": number,
                "customer_id": customer,
                "issue_date": "2026-11-25",
                "lines": [line],
            }
        ),
    }


class Books:
    """The emulator as the judge: what it issued to the appliance's own connection."""

    def __init__(self, emulator: RunningEmulator) -> None:
        self.emulator = emulator
        self.oauth = emulator.service.oauth
        self.ours: set[str] = set()

    def connections(self) -> set[str]:
        return set(self.oauth.state.connections.copy())

    def harvest(self, run: Run) -> None:
        for token in list(self.oauth.state.access.values()):
            if token.connection in self.ours:
                run.plant("access_token", "access token", token.value, len(JWE_HEADER) + 2)
        for token in list(self.oauth.state.refresh.values()):
            if token.connection in self.ours:
                run.plant("refresh_token", "refresh token", token.value)

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.emulator.url + "/_emulator/stats").json())

    def control(self, path: str, doc: dict[str, Any]) -> None:
        httpx.post(self.emulator.url + path, json=doc).raise_for_status()


def signed_headers(gateway: Gateway, event_id: str, body: str) -> dict[str, str]:
    when = datetime.now(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": gateway.signer.sign(event_id, when, body),
        "content-type": "application/json",
    }


def hostile_requests(
    run: Run, public: httpx.Client, realm: str, real: dict[str, str]
) -> tuple[list[int], dict[str, str]]:
    """Requests no one should trust, carrying canaries where secrets go (and real secrets where a
    careless client might put them); returns their statuses and the canaries."""
    fake = {slot: canary(slot.replace("_", "-")) for slot in SLOTS if slot != "data_key"}
    for slot, value in fake.items():
        run.plant(slot, f"hostile {slot.replace('_', ' ')}", value)
    note = " ".join(real.values())  # the redactor knows each by its value or by its shape
    statuses = []
    callback = {"code": fake["oauth_code"], "state": fake["oauth_state"], "realmId": realm}
    statuses.append(public.get("/oauth/callback", params=callback).status_code)
    statuses.append(
        public.get(
            "/api/v1/status",
            params={
                # Not a parameter of the pull API: only a real key's shape marks it as one.
                "api_key": real["api_key"],
                "access_token": fake["access_token"],
                "refresh_token": fake["refresh_token"],
            },
            headers={
                "Authorization": f"Bearer {fake['api_key']}",
                "X-Api-Key": fake["api_key"],
                "Cookie": f"session={fake['access_token']}",
                "X-Note": note,
            },
        ).status_code
    )
    statuses.append(
        public.get("/metrics", headers={"Authorization": f"Bearer {fake['api_key']}"}).status_code
    )
    basic = base64.b64encode(f"{EMULATOR_CLIENT_ID}:{fake['client_secret']}".encode()).decode()
    statuses.append(
        public.get(
            "/no-such-page",
            params={
                "code": fake["oauth_code"],
                "state": fake["oauth_state"],
                "client_secret": fake["client_secret"],
                "token": fake["access_token"],
            },
            headers={"Authorization": f"Basic {basic}", "X-Note": note},
        ).status_code
    )
    body = json.dumps(
        {
            "type": "customer.created",
            "webhook_secret": fake["webhook_secret"],
            "client_secret": fake["client_secret"],
            "refresh_token": fake["refresh_token"],
            "data": {"id": "cus_hostile", "company_name": "Hostile"},
        }
    )
    bad_signature = base64.b64encode(fake["webhook_secret"].encode()).decode()
    statuses.append(
        public.post(
            "/webhooks/jobroutr",
            content=body,
            headers={
                "webhook-id": f"evt_{uuid.uuid4().hex}",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": f"v1,{bad_signature} v1,{fake['webhook_secret']}",
                "webhook-secret": real["webhook_secret"],
                "content-type": "application/json",
                "X-Note": note,
            },
        ).status_code
    )
    statuses.append(public.post("/webhooks/jobroutr", content=body).status_code)
    oversized = json.dumps({"pad": "x" * 300_000, "secrets": fake})
    statuses.append(
        public.post(
            "/webhooks/jobroutr",
            content=oversized,
            headers={
                "webhook-id": f"evt_{uuid.uuid4().hex}",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": f"v1,{bad_signature}",
                "content-type": "application/json",
            },
        ).status_code
    )
    statuses.append(
        public.post(
            "/oauth/callback", data={"client_secret": fake["client_secret"], **callback}
        ).status_code
    )
    return statuses, fake


def drive_console(run: Run, socket: Path, realm: str, hostile_url: str) -> list[str]:
    """Visit every screen of the console as an operator, then paste a hostile redirect address;
    everything shown is kept. Returns the notices it gave."""
    app = ConsoleApp(socket)

    def shown(selector: str) -> str:
        return str(app.screen.query_one(selector, Static).render())

    def grab(name: str) -> None:
        parts = []
        for widget in app.screen.query("*"):
            if isinstance(widget, Static):
                parts.append(str(widget.render()))
            elif isinstance(widget, DataTable):
                for row in range(widget.row_count):
                    parts.append(" ".join(str(c) for c in widget.get_row_at(row)))
            elif isinstance(widget, OptionList):
                for index in range(widget.option_count):
                    parts.append(str(widget.get_option_at_index(index).prompt))
        run.saw("console", f"console {name} screen", "\n".join(parts))
        svg = app.export_screenshot()
        run.saw("console", f"console {name} screenshot", html.unescape(re.sub("<[^>]+>", "", svg)))

    async def until(check: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while not check():
            if loop.time() > end:
                raise AssertionError(f"timed out waiting for the console's {what}")
            await asyncio.sleep(0.05)

    screens: list[tuple[str, str, Callable[[], bool]]] = [
        ("s", "status", lambda: app.screen.query_one("#events", DataTable).row_count > 0),
        ("c", "connect", lambda: realm in shown("#connection")),
        ("i", "import", lambda: "Done" in shown("#line-customers")),
        ("a", "accounts", lambda: app.screen.query_one("#income-list", OptionList).option_count),
        ("o", "onboarding", lambda: "Connect to QuickBooks" in shown("#steps")),
    ]

    async def steps() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            for key, name, ready in screens:
                await pilot.press(key)
                await until(lambda: app.current_mode == name and bool(ready()), name)  # noqa: B023 - awaited in the same iteration
                grab(name)
            await pilot.press("c")
            await until(lambda: app.current_mode == "connect", "connect screen")
            app.screen.post_message(events.Paste(hostile_url))
            field_ = app.screen.query_one("#redirect", Input)
            await until(lambda: field_.value == hostile_url and field_.has_focus, "paste")
            await pilot.press("enter")
            await until(lambda: any(n.severity == "error" for n in app._notifications), "refusal")
            notices = [str(n.message) for n in app._notifications]
            run.saw("console", "console notices", "\n".join(notices))
            run.facts["console_notices"] = notices

    asyncio.run(steps())
    return list(run.facts["console_notices"])


def exercise(books: RunningEmulator, base: Path, short: Path, port: int, client_secret: str) -> Run:
    run = Run()
    judge = Books(books)
    run.plant("client_secret", "QBO client secret", client_secret)
    secret_file = base / "client_secret"
    secret_file.write_text(client_secret + "\n")
    secret_file.chmod(0o600)
    settings = Settings(
        state_dir=base / "state",
        http_port=port,
        admin_socket=short / "admin.sock",
        log_format="json",
    )
    env = env_for(
        settings,
        APPLIANCE_QBO_EMULATOR_URL=books.url,
        APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        APPLIANCE_LOG_LEVEL="DEBUG",
        APPLIANCE_QBO_CLIENT_SECRET_FILE=str(secret_file),
        APPLIANCE_PUSH_RETRY_SECONDS="0.2",
        APPLIANCE_PUSH_DEPENDENCY_WAIT_SECONDS="30",
        APPLIANCE_PUSH_NAME_CLASH="hold",
        APPLIANCE_QBO_RETRY_INITIAL_SECONDS="0.1",
        APPLIANCE_QBO_THROTTLE_INITIAL_SECONDS="0.2",
        APPLIANCE_METRICS_LOG_SECONDS="1",
    )
    facts = run.facts

    init = run.cli("init", env=env)
    assert init.returncode == 0, init.stderr
    # init shows the two JobRoutr secrets once, on stdout, by design; nowhere else.
    run.exempt |= {
        ("api_key", "appliance init (stdout)"),
        ("webhook_secret", "appliance init (stdout)"),
    }
    api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))
    webhook = next(w for w in init.stdout.split() if w.startswith("whsec_"))
    run.plant("api_key", "JobRoutr API key", api_key)
    run.plant("webhook_secret", "JobRoutr webhook secret", webhook)
    run.plant("webhook_secret", "webhook secret's key bytes", base64.b64decode(webhook[6:]))
    keys_seen: dict[str, bytes] = {}

    def note_keys() -> None:
        for version, key in keyring_keys(settings.key_path).items():
            keys_seen[version] = key
            run.plant("data_key", f"data key v{version}", key)
            run.plant("data_key", f"data key v{version} (base64)", base64.b64encode(key))

    note_keys()

    service = start(env, settings)
    gateway: Gateway | None = None
    try:
        gateway = Gateway(service, settings, api_key)
        gateway.http.event_hooks["response"].append(run.recorder("http"))
        public = httpx.Client(
            base_url=service.url, timeout=30, event_hooks={"response": [run.recorder("http")]}
        )
        admin = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(settings.admin_socket_path)),
            base_url="http://appliance",
            timeout=60,
            headers={"X-Appliance-Operator": "chaos@test"},
            event_hooks={"response": [run.recorder("admin_api")]},
        )
        real = {"api_key": api_key, "webhook_secret": webhook, "client_secret": client_secret}
        facts["hostile_before_connect"], fake = hostile_requests(run, public, books.realm, real)
        hostile_url = (
            f"{service.url}/oauth/callback?code={fake['oauth_code']}&state={fake['oauth_state']}"
            f"&realmId={books.realm}"
        )
        facts["hostile_admin_finish"] = admin.post(
            "/v1/connect/finish", json={"redirect_url": hostile_url}
        ).status_code
        facts["hostile_cli_finish"] = run.cli(
            "connect", "--redirect-url", hostile_url, env=env, name="connect hostile"
        ).returncode

        # Connecting, as the operator does: the link, the consent page, the browser's callback.
        started = run.cli("connect", env=env, name="connect link")
        assert started.returncode == 0, started.stderr
        run.exempt.add(("oauth_state", "connect link (stdout)"))  # the link carries it
        link = re.search(r"(http://\S+/connect/oauth2\?\S+)", started.stdout)
        assert link, started.stdout
        run.plant("oauth_state", "OAuth state", parse_qs(urlsplit(link[1]).query)["state"][0])
        before = judge.connections()
        location = approve(link[1], books.realm)
        run.plant(
            "oauth_code", "OAuth authorization code", parse_qs(urlsplit(location).query)["code"][0]
        )
        page = public.get(location)
        facts["callback_page"] = page.text
        judge.ours = judge.connections() - before
        judge.harvest(run)
        facts["connect_again"] = run.cli(
            "connect", "--redirect-url", location, env=env, name="connect again"
        ).returncode
        facts["connection"] = admin.get("/v1/status").json()["connection"]
        for kind in ("customers", "accounts"):
            imported = run.cli("import", kind, "--wait", "--json", env=env)
            assert imported.returncode == 0, imported.stderr
        chosen = admin.put(
            "/v1/settings",
            json={
                f"{kind}_account_id": admin.get(f"/v1/accounts?kind={kind}").json()[0]["qbo_id"]
                for kind in ("income", "expense")
            },
        )
        assert chosen.status_code == 200, chosen.text
        copy_store(run, settings, "after connecting")
        facts["hostile_after_connect"], _ = hostile_requests(
            run,
            public,
            books.realm,
            {
                **real,
                "access_token": run.secrets["access_token"][-1].value.decode(),
                "refresh_token": run.secrets["refresh_token"][-1].value.decode(),
            },
        )

        # Events, with QuickBooks failing on the way: 5xx, a throttle, refusals.
        with books.api() as api:
            api.post("/vendor", json={"DisplayName": "Canary Clash Supply"}).raise_for_status()
        judge.control(
            "/_emulator/faults",
            {"kind": "500", "count": 2, "path_contains": "/customer", "method": "POST"},
        )
        judge.control("/_emulator/faults", {"kind": "429", "count": 1, "path_contains": "/query"})
        first = [
            gateway.send(created("cus_canary_1", "Canary Customer One")),
            gateway.send(created("cus_canary_2", "Canary Customer Two")),
            gateway.send(product("prd_canary", "Canary Widget")),
            gateway.send(created("cus_canary_clash", "Canary Clash Supply")),
        ]
        settled = gateway.settle(*first, timeout=120)
        customer = gateway.link("customer", "cus_canary_1")
        item = gateway.link("product", "prd_canary")
        line = {
            "DetailType": "SalesItemLineDetail",
            "Amount": 20,
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 2, "UnitPrice": 10},
        }
        with books.api() as api:
            api.post(
                "/invoice",
                json={
                    "CustomerRef": {"value": customer},
                    "DocNumber": "CANARY-TAKEN",
                    "Line": [line],
                },
            ).raise_for_status()
        judge.control(
            "/_emulator/faults",
            {"kind": "503_html", "count": 1, "path_contains": "/invoice", "method": "POST"},
        )
        second = [
            gateway.send(invoice("inv_canary_ok", "CANARY-1", "cus_canary_1", "prd_canary")),
            gateway.send(invoice("inv_canary_taken", "CANARY-TAKEN", "cus_canary_1", "prd_canary")),
        ]
        settled += gateway.settle(*second, timeout=120)
        invalid = json.dumps({"type": "customer.created", "data": {"id": ""}})
        facts["invalid_event"] = gateway.http.post(
            "/webhooks/jobroutr",
            content=invalid,
            headers=signed_headers(gateway, f"evt_{uuid.uuid4().hex}", invalid),
        ).status_code

        # Two forced refreshes: QuickBooks' clock jumps past the access token's hour, twice.
        refreshes = judge.stats()["token_refreshes"]
        judge.control("/_emulator/clock", {"advance_seconds": 3601})
        settled += gateway.settle(
            gateway.send(created("cus_canary_3", "Canary Three")), timeout=120
        )
        wait_until(
            lambda: judge.stats()["token_refreshes"] > refreshes, timeout=60, what="refresh 1"
        )
        judge.harvest(run)
        copy_store(run, settings, "after the first refresh")
        judge.control("/_emulator/clock", {"advance_seconds": 3601})
        again = run.cli(
            "import", "customers", "--wait", "--json", env=env, name="import after expiry"
        )
        assert again.returncode == 0, again.stderr
        settled += gateway.settle(gateway.send(created("cus_canary_4", "Canary Four")), timeout=120)
        wait_until(
            lambda: judge.stats()["token_refreshes"] > refreshes + 1, timeout=60, what="refresh 2"
        )
        judge.harvest(run)
        copy_store(run, settings, "after the second refresh")
        facts["refreshes"] = judge.stats()["token_refreshes"] - refreshes
        facts["settled"] = settled
        facts["emulator"] = judge.stats()

        rotated = run.cli("rotate-key", env=env)
        assert rotated.returncode == 0, rotated.stderr
        note_keys()
        facts["key_versions"] = sorted(keys_seen)

        # Everything the console asks the admin API, and its refusals.
        for path in (
            "/healthz",
            "/v1/status",
            "/v1/events?limit=100",
            "/v1/events?status=failed",
            "/v1/events?status=done",
            "/v1/events?status=bogus",
            "/v1/events/evt_none",
            "/v1/imports/customers",
            "/v1/imports/products",
            "/v1/imports/accounts",
            "/v1/accounts?kind=income",
            "/v1/accounts?kind=expense",
            "/v1/settings",
            "/v1/onboarding",
        ):
            admin.get(path)
        for event in settled:
            admin.get(f"/v1/events/{event['event_id']}")
        failed = [e["event_id"] for e in settled if e["status"] == "failed"]
        admin.post("/v1/events/retry", json={"event_ids": failed})
        gateway.settle(*failed, timeout=120)
        admin.post("/v1/events/retry", json={})
        admin.post("/v1/connect/start", json={"allow_other_company": False})
        admin.post("/v1/onboarding/complete")

        # The pull API as JobRoutr calls it, and the public pages.
        for path in (
            "/api/v1/status",
            "/api/v1/customers?limit=5",
            "/api/v1/products",
            "/api/v1/accounts?kind=income",
            "/api/v1/links/customer/cus_canary_1",
            "/api/v1/customers?cursor=bogus",
            "/metrics",
            "/healthz",
            "/readyz",
            "/schema/openapi.json",
        ):
            gateway.http.get(path)

        for args in (
            ("status",),
            ("status", "--json"),
            ("events",),
            ("events", "--status", "failed"),
            ("events", "show", failed[0]),
            ("settings", "show"),
        ):
            shown = run.cli(*args, env=env)
            assert shown.returncode == 0, shown.stderr

        facts["console_notices"] = drive_console(
            run, settings.admin_socket_path, books.realm, hostile_url
        )
        skipped = run.cli("events", "skip", *failed, "--yes", env=env)
        assert skipped.returncode == 0, skipped.stderr

        target = base / "backups" / "store.db"
        target.parent.mkdir()
        made = run.cli("backup", str(target), env=env)
        assert made.returncode == 0, made.stderr
        run.saw("backup", target.name, target.read_bytes())
        facts["backup"] = target
        copy_store(run, settings, "after the backup")

        disconnected = run.cli("disconnect", "--yes", env=env)
        assert disconnected.returncode == 0, disconnected.stderr
        facts["revoked"] = all(judge.oauth.state.connections[c].revoked for c in judge.ours)
        run.cli("status", env=env, name="status after disconnect")
        public.close()
        admin.close()
        gateway.http.close()
        code, out, err = service.stop()
        facts["exit"] = code
        run.saw("logs", "service stdout", out)
        run.saw("logs", "service stderr", err)
        (base / "service.log").write_text(out + err)  # kept for whoever reads a failure
        for path in sorted(settings.state_dir.rglob("*")):
            if path.is_file() and path != settings.key_path:
                run.saw("state_files", str(path.relative_to(base)), path.read_bytes())
        facts["state_files"] = sorted(n for n, _ in run.places["state_files"])
    finally:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("secrets")
    short = Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp"))  # socket paths must stay short
    port = free_port()
    client_secret = canary("client-secret")
    config = EmulatorConfig(
        client_secret=client_secret, redirect_uris=[f"http://127.0.0.1:{port}/oauth/callback"]
    )
    try:
        with RunningEmulator(config) as books:
            yield exercise(books, base, short, port, client_secret)
    finally:
        shutil.rmtree(short, ignore_errors=True)


# The tests --------------------------------------------------------------------------------------

#: (slot, place) -> why a leak there is known and not fixed yet: the cell is a strict xfail, so
#: the fix turns it red until the entry goes. Empty: the OAuth state found in the DEBUG request log
#: (a raw query string the redactor did not cover) is scrubbed since appliance/logging.py's
#: query-string pattern for state=.
KNOWN_LEAKS: dict[tuple[str, str], str] = {}


def test_the_scanner_finds_a_canary_in_every_shape_a_leak_could_take(tmp_path: Path) -> None:
    value = canary("scratch")
    planted = secret("client_secret", "scratch canary", value)
    other = secret("client_secret", "another canary", canary("other"))
    shapes = {
        "raw": f"log line {value} end",
        "basic": "Authorization: Basic "
        + base64.b64encode(f"client-id:{value}".encode()).decode(),  # shifted by 10 bytes
        "base64url": base64.urlsafe_b64encode(b"xy" + value.encode()).decode(),
        "url-encoded": quote(f"{value}/+=", safe=""),
        "hex": value.encode().hex(),
        "truncated": f"secret starts {value[5:30]}...",
    }
    for name, text in shapes.items():
        scratch = tmp_path / name
        scratch.write_text(text)
        assert leaks_in([planted], [(name, scratch.read_bytes())]), name
        assert not leaks_in([other], [(name, scratch.read_bytes())]), name
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.txt", shapes["basic"] * 50)
    assert leaks_in([planted], [("zip", packed.getvalue())])
    assert leaks_in([planted], [("gzip", gzip.compress(shapes["raw"].encode() * 50))])
    key = secrets.token_bytes(32)
    key_file = json.dumps({"keys": {"1": base64.b64encode(key).decode()}}).encode()
    assert leaks_in([secret("data_key", "key", key)], [("key file", key_file)])
    assert leaks_in([secret("data_key", "key", key)], [("binary", b"\0" * 7 + key + b"\1")])


def test_every_secret_slot_was_really_used(run: Run) -> None:
    facts = run.facts
    assert facts["connection"]["state"] == "connected"  # the client secret and code were good
    assert "connected" in facts["callback_page"]
    assert facts["connect_again"] == 1  # the same code and state a second time: refused
    assert facts["refreshes"] >= 2
    for slot in ("access_token", "refresh_token"):  # one pair on connecting, one per refresh
        assert len([s for s in run.secrets[slot] if not s.label.startswith("hostile")]) >= 3
    assert facts["revoked"]  # the disconnect revoked the appliance's tokens at Intuit
    statuses = {e["status"] for e in facts["settled"]}
    assert "done" in statuses  # pushed
    assert "failed" in statuses  # and refused, with QuickBooks' code
    codes = {e["error"]["code"] for e in facts["settled"] if e["status"] == "failed"}
    assert "6140" in codes
    assert facts["emulator"]["faults_injected"] >= 4  # two 500s, a 429, an HTML 503
    for statuses_ in (facts["hostile_before_connect"], facts["hostile_after_connect"]):
        assert statuses_[1:] == [401, 401, 404, 401, 401, 413, 405]
    assert facts["hostile_admin_finish"] >= 400
    assert facts["hostile_cli_finish"] != 0
    assert facts["invalid_event"] == 422
    assert facts["key_versions"] == ["1", "2"]
    assert any("not started by this appliance" in n for n in facts["console_notices"])
    assert facts["exit"] == 0
    # The store really held the secrets, sealed, while it was being copied.
    assert any(b"JRV1" in data for name, data in run.places["db_live"] if "-wal" in name)
    assert b"JRV1" in run.places["backup"][0][1]
    for slot in SLOTS:
        assert run.secrets[slot], slot


def matrix() -> list[Any]:
    cells = []
    for slot in SLOTS:
        for place in PLACES:
            reason = KNOWN_LEAKS.get((slot, place))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cells.append(pytest.param(slot, place, marks=marks, id=f"{slot}-in-{place}"))
    return cells


@pytest.mark.parametrize(("slot", "place"), matrix())
def test_no_secret_of_a_slot_appears_in_a_place(run: Run, slot: str, place: str) -> None:
    items = run.items(slot, place)
    assert items, f"nothing was collected from {place}"
    found = leaks_in(run.secrets[slot], items)
    assert not found, "\n".join(found)


def test_backups_leave_the_data_key_out_and_hold_every_secret_sealed(run: Run) -> None:
    backup = run.facts["backup"]
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT scope, name, key_version, ciphertext FROM secret").fetchall()
    names = {(scope.split(":")[0], name) for scope, name, _, _ in rows}
    assert {
        ("jobroutr", "webhook_secret"),
        ("realm", "access_token"),
        ("realm", "refresh_token"),
    } <= names
    assert all(blob[:4] == b"JRV1" and version == 2 for _, _, version, blob in rows)
    assert leaks_in(run.secrets["data_key"], run.places["backup"]) == []
    assert not any("keyring" in name for name in run.facts["state_files"])
