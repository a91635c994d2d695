"""The console's Review screen driven by keys against the real service and the emulator: the
Status screen counts the questions and leads there (v); the JobRoutr record and the QuickBooks
candidate side by side with the reason and the name a new record would get; l, n and s each ask
first, saying what will happen; a decision is carried out by the push (linked: done on the record
shown; skipped: ignored), audited, and the list refreshes with a notice of what was done.

The events are put in review by ``plant_review``, as a push that asked leaves them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from appliance.core import review as cases
from appliance.storage.models import AuditEntry
from appliance.tui.app import ConsoleApp
from appliance.tui.common import Confirm
from appliance.tui.review import ReviewScreen
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.store import plant_review, stored
from tests.tui.pilot import SIZE, drive, notices, text, until


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path) as running:
        yield running


def case_for(name: str, qbo_id: str, *, create: bool = True) -> cases.ReviewCase:
    ours = {"display_name": name, "email": "office@jobroutr.example"}
    theirs = {"display_name": name, "email": "books@elsewhere.example", "balance": "80.00"}
    choices = {cases.LINK: f"Link to QuickBooks' {name} ({qbo_id})", cases.SKIP: "Skip"}
    if create:
        choices[cases.CREATE] = f"Create '{name} (2)'"
    return cases.ReviewCase(
        kind="customer",
        reason=cases.NAME,
        message=f"QuickBooks has a customer named '{name}', and nothing else agrees.",
        jobroutr=cases.summary("customer", ours),
        candidate=cases.summary("customer", theirs, qbo_id=qbo_id),
        create_as=f"{name} (2)" if create else None,
        choices=choices,
    )


def customer(books: RunningEmulator, name: str) -> str:
    with books.api() as api:
        answer = api.post("/customer", json={"DisplayName": name})
    answer.raise_for_status()
    return str(answer.json()["Customer"]["Id"])


def plain(app: ConsoleApp, selector: str) -> str:
    """What a widget shows, as text (the case is a group of rich renderables)."""
    console = Console(width=SIZE[0], file=io.StringIO(), record=True)
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


async def answer(app: ConsoleApp, pilot: Any, key: str, reply: str) -> str:
    """Press a decision's key; the confirmation's question, answered with ``reply`` (y/n)."""
    await pilot.press(key)
    await until(lambda: isinstance(app.screen, Confirm), "the confirmation")
    question = str(app.screen.question)  # type: ignore[attr-defined]
    await pilot.press(reply)
    await until(lambda: isinstance(app.screen, ReviewScreen), "the Review screen again")
    return question


def test_link_and_skip_from_the_review_screen(gateway: Gateway, books: RunningEmulator) -> None:
    qbo_id = customer(books, "Robin Console")
    plant_review(
        gateway.settings, "evt_tui_r1", "customer", "cus_tr1", case_for("Robin Console", qbo_id)
    )
    plant_review(
        gateway.settings, "evt_tui_r2", "customer", "cus_tr2", case_for("Wren Console", "4343")
    )
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot: Any) -> None:
        await until(
            lambda: "2 event(s) wait for your decision" in text(app, "#queue"),
            "the count on Status",
        )
        await pilot.press("v")
        await until(lambda: isinstance(app.screen, ReviewScreen), "the Review screen")
        table = app.screen.query_one("#review-list", DataTable)
        await until(lambda: table.row_count == 2, "the two questions")
        # Newest first: Wren, then Robin.
        await pilot.press("down")
        await until(lambda: "evt_tui_r1" in plain(app, "#review-case"), "Robin's case")
        shown = plain(app, "#review-case")
        assert "QuickBooks has a customer named 'Robin Console'" in shown
        assert "office@jobroutr.example" in shown
        assert "books@elsewhere.example" in shown
        assert "* " in shown  # the email differs: marked
        assert "New record would be named: Robin Console (2)" in shown

        question = await answer(app, pilot, "l", "n")  # asked, and declined: nothing happens
        assert f"Link this customer to QuickBooks' Robin Console (id {qbo_id})" in question
        assert gateway.event("evt_tui_r1")["status"] == "review"

        await answer(app, pilot, "l", "y")
        await until(lambda: table.row_count == 1, "the list without it")
        assert any(f"linked to QuickBooks customer {qbo_id}" in m for m in notices(app))

        question = await answer(app, pilot, "s", "y")
        assert "nothing is written to QuickBooks" in question
        await until(lambda: table.row_count == 0, "an empty list")
        assert any("evt_tui_r2 skipped" in m for m in notices(app))
        assert "Nothing waits for you" in plain(app, "#review-case")
        await pilot.press("escape")
        await until(lambda: app.current_mode == "status", "back to Status")

    drive(app, steps)
    linked, skipped = gateway.settle("evt_tui_r1", "evt_tui_r2")
    assert (linked["status"], linked["qbo_id"]) == ("done", qbo_id)  # the job ran again
    assert gateway.link("customer", "cus_tr1") == qbo_id
    assert (skipped["status"], skipped["qbo_id"]) == ("ignored", None)
    audited = [e for e in stored(gateway.settings, AuditEntry) if e.action == "events.decide"]
    assert [(e.detail["events"], e.detail["decision"]) for e in audited] == [
        (["evt_tui_r1"], "link"),
        (["evt_tui_r2"], "skip"),
    ]
    assert all(e.actor.startswith("uid ") for e in audited)  # who, as the kernel said


def test_a_choice_the_question_does_not_offer_is_not_asked(gateway: Gateway) -> None:
    case = case_for("Finch Console", "4444", create=False)
    plant_review(gateway.settings, "evt_tui_r3", "customer", "cus_tr3", case)
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot: Any) -> None:
        await pilot.press("v")
        await until(lambda: "evt_tui_r3" in plain(app, "#review-case"), "the case")
        assert "New record would be named" not in plain(app, "#review-case")
        await pilot.press("n")
        await until(lambda: any("does not offer create" in m for m in notices(app)), "the notice")
        assert isinstance(app.screen, ReviewScreen)  # no confirmation: nothing to confirm

    drive(app, steps)
    assert gateway.event("evt_tui_r3")["status"] == "review"
