"""Take the console screenshots in docs/console/ from a real run: the bundled emulator, the
service as a process, a few events pushed (one held on a name clash), imports under way, and a
question for the operator (an event put in review as the push leaves one, ``plant_review``).

    .venv/bin/python -m tests.tui.screenshots [DIRECTORY]    (default: docs/console)

Each screen is saved as SVG at 80x24, the size the console is made to fit.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from appliance.core import review as cases
from appliance.emulator.app import EmulatorConfig
from appliance.tui.app import ConsoleApp
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import running_gateway
from tests.harness.jobroutr import created
from tests.harness.processes import ROOT
from tests.harness.store import plant_review
from tests.harness.taxes import UK_CODES, UK_RATES, british, seed_taxes

SIZE = (80, 24)


async def until(check: Any, seconds: float = 60) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not check():
        if loop.time() > end:
            raise TimeoutError("the console did not get there")
        await asyncio.sleep(0.05)


def john_smith(books: RunningEmulator) -> cases.ReviewCase:
    """A John Smith in QuickBooks, and JobRoutr's John Smith whom nothing else says is him."""
    stranger = {
        "DisplayName": "John Smith",
        "PrimaryEmailAddr": {"Address": "jsmith@hartley.example"},
        "PrimaryPhone": {"FreeFormNumber": "(541) 555-0190"},
        "BillAddr": {"Line1": "4 Mill Rd", "City": "Bend", "CountrySubDivisionCode": "OR"},
    }
    with books.api() as api:
        answer = api.post("/customer", json=stranger)
    answer.raise_for_status()
    qbo_id = str(answer.json()["Customer"]["Id"])
    theirs = {
        "display_name": "John Smith",
        "email": "jsmith@hartley.example",
        "phone": "(541) 555-0190",
        "billing_address": {"line1": "4 Mill Rd", "city": "Bend", "region": "OR"},
    }
    ours = {
        "display_name": "John Smith",
        "email": "john.smith@mailbox.example",
        "phone": "(503) 555-0148",
        "billing_address": {"line1": "12 Oak St", "city": "Salem", "region": "OR"},
    }
    return cases.ReviewCase(
        kind="customer",
        reason=cases.NAME,
        message=f"QuickBooks has a customer named 'John Smith' ({qbo_id}), and nothing else "
        "agrees: not the email, the phone or the billing address.",
        jobroutr=cases.summary("customer", ours),
        candidate=cases.summary("customer", theirs, qbo_id=qbo_id),
        create_as="John Smith (2)",
        choices={
            cases.LINK: f"Link to QuickBooks' John Smith ({qbo_id})",
            cases.CREATE: "Create a new customer 'John Smith (2)'",
            cases.SKIP: "Skip: write nothing",
        },
    )


def shoot(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with RunningEmulator(EmulatorConfig(customers=6_000, items=150)) as books:
        with books.api() as api:
            api.post("/vendor", json={"DisplayName": "Summit Supply"}).raise_for_status()
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_gateway(books, Path(tmp), APPLIANCE_PUSH_NAME_CLASH="hold") as gateway,
        ):
            case = john_smith(books)
            names = ["Alder & Birch Homes", "Cedar Ridge HOA", "Summit Supply"]
            sent = [gateway.send(created(f"cus_{n}", name)) for n, name in enumerate(names)]
            gateway.settle(*sent)
            app = ConsoleApp(gateway.settings.admin_socket_path)

            def save(name: str) -> None:
                app.save_screenshot(filename=f"{name}.svg", path=str(target))
                print("saved", target / f"{name}.svg")

            async def steps() -> None:
                async with app.run_test(size=SIZE) as pilot:
                    await pilot.pause(1.0)
                    save("status")
                    await pilot.press("c", "n")
                    await until(lambda: bool(getattr(app.screen, "authorization_url", "")))
                    await pilot.pause(0.3)
                    save("connect")
                    await pilot.press("g")
                    await pilot.pause(0.3)
                    save("connect-qr")
                    await pilot.press("escape", "i", "2")
                    await until(
                        lambda: "Done" in str(app.screen.query_one("#line-products").render())
                    )
                    await pilot.press("1")
                    line = app.screen.query_one("#line-customers")
                    await until(lambda: "Importing: 0 " not in str(line.render())
                                and "Importing" in str(line.render()))  # fmt: skip
                    save("import")
                    await pilot.press("a")
                    await pilot.pause(1.0)
                    await pilot.press("slash", *"services", "enter", "enter")
                    await pilot.press("slash", "ctrl+u", "enter")  # the whole chart again
                    await pilot.press("tab", "slash", *"job", "enter", "enter")
                    await pilot.pause(0.3)
                    save("accounts")
                    await pilot.press("ctrl+s")
                    await until(lambda: not getattr(app.screen, "unsaved", True))
                    # A British company's tax codes and rates, as a VAT company's would be.
                    seed_taxes(gateway.settings, british(books.realm), UK_RATES, UK_CODES)
                    await pilot.press("t")
                    await pilot.pause(1.0)
                    await pilot.press("down", "down", "y")  # accept "VAT 20%" → "20.0% S"
                    await pilot.pause(1.0)
                    await pilot.press("up", "up")  # "Reduced 5%": its suggestion, starred
                    await pilot.pause(0.3)
                    save("taxes")
                    await pilot.press("o")
                    await pilot.pause(1.0)
                    save("onboarding")
                    plant_review(gateway.settings, "evt_review", "customer", "cus_js", case)
                    await pilot.press("s")
                    await pilot.pause(1.0)
                    await pilot.press("v")
                    await pilot.pause(1.0)
                    save("review")

            # The import asks for its pages at once: jitter spreads their answers, so the screenshot
            # catches it part way.
            slow = {"latency_ms": 2000, "latency_jitter_ms": 1500}
            httpx.patch(books.url + "/_emulator/limits", json=slow).raise_for_status()
            try:
                asyncio.run(steps())
            finally:
                idle = {"latency_ms": 0, "latency_jitter_ms": 0}
                httpx.patch(books.url + "/_emulator/limits", json=idle)


if __name__ == "__main__":
    shoot(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "console")
