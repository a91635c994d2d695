"""One of the processes of the cross-process refresh test: N concurrent calls when told to go.

Usage: refresh_race.py STATE_DIR EMULATOR_URL REALM GO_FILE N

The process opens the store and builds its runtime first, then says it is ready (a file
GO_FILE.ready.<pid>) and waits for GO_FILE, so that all processes call at the same moment.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from appliance.config import Settings
from appliance.gateway.runtime import Runtime
from appliance.storage.store import Store


def ready_then_wait(go: Path) -> None:
    Path(f"{go}.ready.{os.getpid()}").write_text("ready")
    while not go.exists():
        time.sleep(0.005)


async def main(state_dir: str, emulator: str, realm: str, go: Path, count: int) -> int:
    settings = Settings(state_dir=Path(state_dir), qbo_emulator_url=emulator)
    store = Store.open(settings)
    runtime = Runtime(settings, store)
    try:
        await asyncio.to_thread(ready_then_wait, go)
        results = await asyncio.gather(*(runtime.qbo.company_info(realm) for _ in range(count)))
    finally:
        await runtime.aclose()
        store.close()
    return sum(1 for r in results if r.get("CompanyName"))


if __name__ == "__main__":
    ok = asyncio.run(
        main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]))
    )
    print(f"{ok} ok")
