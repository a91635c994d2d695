"""PostgreSQL as the store, on a real server: two instances migrating at once, backup's pointer
to pg_dump, and an outage while serving (503 + Retry-After, readiness, recovery, nothing lost).

These need a PostgreSQL server: they run in the PostgreSQL pass (``--store=postgres``, which
`tasks.py test` runs) and skip with a sentence in the SQLite one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance.storage.keyring import Keyring, save_keyring
from tests.harness.processes import APPLIANCE, appliance_env, free_port
from tests.harness.stores import POSTGRES, STORES, store_env

pytestmark = pytest.mark.stores


@pytest.fixture
def on_postgres(store_kind: str) -> None:
    if store_kind != POSTGRES:
        pytest.skip("needs a PostgreSQL server: runs in the PostgreSQL pass (--store=postgres)")


def instance_env(base: Path, database_url: str, password_file: Path) -> dict[str, str]:
    """One appliance's settings (its own state directory and key) on a shared database."""
    state = base / "state"
    state.mkdir(mode=0o700, parents=True)
    save_keyring(state / "keyring.json", Keyring.generate(), create_only=True)
    return {
        "APPLIANCE_STATE_DIR": str(state),
        "APPLIANCE_HTTP_PORT": str(free_port()),
        "APPLIANCE_ADMIN_SOCKET": str(base / "admin.sock"),
        "APPLIANCE_QBO_EMULATOR_URL": f"http://127.0.0.1:{free_port()}",
        **store_env(database_url, password_file),
    }


@pytest.mark.usefixtures("on_postgres")
def test_two_instances_migrating_one_new_database_at_once_both_succeed(short_dir: Path) -> None:
    for round_ in range(3):  # a race: a few fresh databases, each migrated by two at once
        store = STORES.store_settings()
        envs = [
            instance_env(short_dir / f"r{round_}i{n}", store["database_url"],
                         store["database_password_file"])
            for n in range(2)
        ]  # fmt: skip
        runs = [
            subprocess.Popen(
                [str(APPLIANCE), "migrate"], env=appliance_env(env), text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for env in envs
        ]  # fmt: skip
        results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
        for code, _, err in results:
            assert code == 0, err
            assert "Traceback" not in err
        said = sorted(out.strip() for _, out, _ in results)
        assert said[0].startswith("Migrated the database schema from empty"), said
        assert said[1].startswith("The database schema is current"), said
