"""The service's own wiring (Runtime) in-process, against the emulator and a real store."""

from __future__ import annotations

import asyncio

from appliance.gateway.runtime import Runtime
from appliance.qbo.oauth import Callback
from tests.harness.emulator import approve


async def connect(runtime: Runtime, realm: str) -> None:
    started = runtime.connector.start(actor="test")
    location = await asyncio.to_thread(approve, started.authorization_url, realm)
    await runtime.connector.finish(Callback.from_url(location), actor="test")
