"""The words of the commands and of the browser pages as a newcomer reads them (issue 22, items 4
and 8): the tasks before connecting, the step after Mark Complete, the connect link alone on its
line, the pages after Cancel and for a user who is not a company administrator, lists of kinds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.harness.cli import connect_link
from tests.harness.emulator import REALM, RunningEmulator, approve
from tests.harness.gateway import running_gateway
from tests.harness.processes import run_appliance
from tests.harness.service import Service

SHELL_COMMAND = re.compile(r"appliance [a-z]")


def test_onboarding_before_connecting_lists_the_tasks(service: Service) -> None:
    shown = run_appliance("onboarding", env=service.env)
    assert shown.returncode == 0, shown.stderr
    assert "No QuickBooks company is connected yet" in shown.stdout
    assert shown.stdout.count("[ ]") == 4
    assert "Connect to QuickBooks" in shown.stdout
    as_json = json.loads(run_appliance("onboarding", "--json", env=service.env).stdout)
    assert [t["done"] for t in as_json["tasks"]] == [False] * 4
    # Nothing to mark complete yet: said, not a traceback.
    marked = run_appliance("onboarding", "--complete", env=service.env)
    assert marked.returncode == 1
    assert "not been connected" in marked.stderr


def test_the_connect_link_is_alone_on_its_line(service: Service) -> None:
    link = connect_link(service.env)
    printed = run_appliance("connect", env=service.env).stdout.splitlines()
    # The whole line is the link: a triple-click (or tmux's copy of a wrapped line) takes it all.
    assert any(line.startswith("http://") and "/connect/oauth2?" in line for line in printed)
    assert link.split("state=")[0] in next(line for line in printed if line.startswith("http"))


def test_mark_complete_says_the_next_step(books: RunningEmulator, tmp_path: Path) -> None:
    with running_gateway(books, tmp_path) as gateway:
        marked = run_appliance("onboarding", "--complete", env=gateway.env)
        assert marked.returncode == 0, marked.stderr
        assert "Setup marked complete: go on to Step 3: Build Service in JobRoutr." in marked.stdout
        shown = run_appliance("onboarding", env=gateway.env)
        assert "go on to Step 3: Build Service in JobRoutr" in shown.stdout

        # A list of kinds of account reads as a sentence: "Income or Other Income".
        accounts = json.loads(
            run_appliance("accounts", "--kind", "expense", "--json", env=gateway.env).stdout
        )
        wrong = run_appliance(
            "settings", "set", "--income-account", accounts[0]["qbo_id"], env=gateway.env
        )
        assert wrong.returncode == 1
        assert "must be Income or Other Income." in wrong.stderr


def test_the_cancel_page_says_it_once(service: Service) -> None:
    location = approve(connect_link(service.env), REALM, action="cancel")
    page = httpx.get(location)
    assert page.status_code == 400
    assert page.text.count("cancelled in QuickBooks") == 1, page.text
    assert "To connect after all, open a new connect link and choose Connect" in page.text
    assert not SHELL_COMMAND.search(page.text), page.text


def test_the_page_for_a_user_who_is_not_an_administrator_says_what_to_do_in_quickbooks(
    tmp_path: Path,
) -> None:
    with RunningEmulator() as books, running_gateway(books, tmp_path, connect=False) as gateway:
        httpx.patch(
            f"{books.url}/_emulator/companies/{books.realm}", json={"status": "user_not_admin"}
        )
        location = approve(connect_link(gateway.env), books.realm)
        # The redirect names the public URL; this service listens on a port of its own.
        page = httpx.get(gateway.base + location[location.index("/oauth/callback") :])
    assert page.status_code == 400
    assert "only company administrators can connect apps" in page.text
    assert "Settings &gt; Manage users" in page.text
    assert not SHELL_COMMAND.search(page.text), page.text
