"""`appliance import KIND --last` shows the last run whatever the connection's state: after
QuickBooks ended the connection, and after the operator disconnected."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.harness.cli import invoke
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import running_gateway
from tests.harness.processes import run_appliance


def test_the_last_import_is_shown_after_quickbooks_ended_the_connection_and_after_disconnect(
    tmp_path: Path,
) -> None:
    with RunningEmulator() as books, running_gateway(books, tmp_path) as gateway:
        done = run_appliance("import", "customers", "--wait", "--json", env=gateway.env)
        assert done.returncode == 0, done.stderr
        customers = json.loads(done.stdout)
        # The company disconnects the app in QuickBooks; an hour on, the access token has
        # lapsed too: the next import finds the connection ended.
        httpx.post(books.url + "/_emulator/disconnect", json={"realm_id": books.realm})
        httpx.post(books.url + "/_emulator/clock", json={"advance_seconds": 3601})
        refused = run_appliance("import", "products", "--wait", env=gateway.env)
        assert refused.returncode != 0
        state = json.loads(run_appliance("status", "--json", env=gateway.env).stdout)
        assert state["connection"]["state"] == "needs_reconnect"

        last = invoke("import", "customers", "--last", env=gateway.env)
        assert last.exit_code == 0, last.stderr
        assert f"{customers['done']:,}" in last.stdout
        as_json = invoke("import", "customers", "--last", "--json", env=gateway.env)
        assert json.loads(as_json.stdout)["run_id"] == customers["run_id"]
        products = invoke("import", "products", "--last", "--json", env=gateway.env)
        assert json.loads(products.stdout)["state"] == "failed"

        assert invoke("disconnect", "--yes", env=gateway.env).exit_code == 0
        after = invoke("import", "customers", "--last", "--json", env=gateway.env)
        assert after.exit_code == 0, after.stderr
        assert json.loads(after.stdout)["run_id"] == customers["run_id"]


def test_with_no_import_yet_the_hint_says_to_connect_first_when_not_connected(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path, connect=False) as gateway:
        for kind in ("customers", "products", "tax_codes"):
            last = invoke("import", kind, "--last", env=gateway.env)
            assert last.exit_code != 0
            said = " ".join(last.stderr.split())
            assert f"No import of {kind} has run yet." in said
            assert f"Run `appliance connect` first, then `appliance import {kind}`." in said


def test_with_no_import_yet_the_hint_says_to_run_the_import_when_connected(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path) as gateway:
        last = invoke("import", "products", "--last", env=gateway.env)
        assert last.exit_code != 0
        said = " ".join(last.stderr.split())
        assert "No import of products has run yet." in said
        assert "Run `appliance import products`." in said
        assert "connect" not in said
