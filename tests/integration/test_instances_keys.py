"""The data key across instances: `appliance rotate-key` re-seals only when every live instance
holds the new key, so an instance with its own copy of the key file is never left unable to open
the secrets (docs/install.md, "Rotating the data key")."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway
from tests.harness.instances import copy_key_file, two_instances
from tests.harness.postgres import PostgresServer, server_or_skip
from tests.harness.processes import run_appliance, wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with server_or_skip("two instances") as running:
        yield running


def customer(n: int) -> dict[str, object]:
    return {
        "type": "customer.created",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"id": f"cus_{uuid.uuid4().hex[:12]}", "company_name": f"Keyed {n}"},
    }


def _status(gateway: Gateway) -> dict[str, object]:
    shown = run_appliance("status", "--json", env=gateway.env)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def _pushes(gateway: Gateway, n: int) -> None:
    """An event this instance accepts (its webhook secret opens) is pushed to QuickBooks."""
    [event] = gateway.settle(gateway.send(customer(n)))
    assert event["status"] == "done", event


def test_rotate_key_refuses_while_an_instance_lacks_the_new_key_then_completes_once_copied(
    tmp_path: Path, server: PostgresServer
) -> None:
    with (
        RunningEmulator() as books,
        two_instances(books, tmp_path, server, own_key_copy=True) as pair,
    ):
        shown = _status(pair.a)["instances"]
        assert {i["name"] for i in shown} == {"gateway-a", "gateway-b"}  # type: ignore[index,union-attr]
        text = run_appliance("status", env=pair.b.env).stdout
        assert "Live instances:   gateway-a (keys 1), gateway-b (keys 1)" in text

        refused = run_appliance("rotate-key", env=pair.a.env)
        assert refused.returncode == 75, refused.stdout + refused.stderr
        assert "gateway-b" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert "Copy " in refused.stderr
        assert "run `appliance rotate-key` again" in refused.stderr
        # Nothing was re-sealed: b keeps serving and stays ready.
        assert pair.b.http.get("/readyz").status_code == 200
        assert pair.a.http.get("/readyz").status_code == 200
        _pushes(pair.b, 1)
        assert _status(pair.b)["store"]["key_version"] == 1  # type: ignore[index]

        copy_key_file(pair.a.settings.key_path, pair.b.settings.key_path)
        rotated = run_appliance("rotate-key", env=pair.a.env)
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        assert "under key version 2" in rotated.stdout
        for gateway in (pair.a, pair.b):
            assert gateway.http.get("/readyz").status_code == 200
            _pushes(gateway, 2)
        # b's copy (it still lists key 1) now seals under 2, the store's key: a opens it.
        assert _status(pair.b)["store"]["key_version"] == 2  # type: ignore[index]


def test_rotate_key_with_one_shared_key_file_completes_in_one_command(
    tmp_path: Path, server: PostgresServer
) -> None:
    with RunningEmulator() as books, two_instances(books, tmp_path, server) as pair:
        rotated = run_appliance("rotate-key", env=pair.a.env)
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        assert "under key version 2" in rotated.stdout
        wait_until(
            lambda: pair.b.http.get("/readyz").status_code == 200, timeout=10, what="b ready"
        )
        _pushes(pair.b, 1)
        _pushes(pair.a, 2)
