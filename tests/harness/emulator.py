"""The bundled QBO emulator in a thread of the test process, and what the operator's browser does
on its consent page."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from appliance.emulator.app import EmulatorConfig, create_emulator_app
from tests.harness.processes import answers, free_port, wait_until

REALM = "9341453050071776"  # the realm of the emulator's default company


class RunningEmulator:
    """The bundled QBO emulator on a free loopback port, in a thread of the test process."""

    def __init__(self, config: Any = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config or EmulatorConfig()
        self.app = create_emulator_app(self.config)
        self.service = self.app.service
        self.realm = next(iter(self.service.companies))
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        wait_until(lambda: answers(self.url + "/_emulator/health"), what="the emulator")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def token(self, realm: str | None = None) -> str:
        response = httpx.post(
            self.url + "/_emulator/tokens", json={"realm_id": realm or self.realm}
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def api(self, token: str | None = None, realm: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/v3/company/{realm or self.realm}",
            headers={
                "Authorization": f"Bearer {token or self.token(realm)}",
                "Accept": "application/json",
            },
            params={"minorversion": "75"},
            timeout=30,
        )


def approve(authorization_url: str, realm: str, action: str = "connect") -> str:
    """What the operator's browser does on the consent page; returns where it is sent next."""
    parts = urlsplit(authorization_url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    response = httpx.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        data={**params, "realm_id": realm, "action": action},
    )
    assert response.status_code == 302, response.text
    return str(response.headers["location"])
