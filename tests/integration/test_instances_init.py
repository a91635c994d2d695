"""Two `appliance init` at once on one fresh PostgreSQL database (two instances set up side by
side): one initialises the store, the other either finds it initialised or says in one sentence
that another instance did it, and what to copy; never a raw database error."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.storage.keyring import load_keyring
from tests.harness.instances import instance_settings
from tests.harness.postgres import PostgresServer, server_or_skip
from tests.harness.processes import APPLIANCE, appliance_env
from tests.harness.service import env_for

ROUNDS = 3


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with server_or_skip("two instances") as running:
        yield running


@pytest.mark.parametrize("shared_key", [False, True], ids=["own-key-files", "one-key-file"])
def test_two_inits_at_once_on_one_fresh_database_end_in_one_store_and_sentences(
    tmp_path: Path, server: PostgresServer, shared_key: bool
) -> None:
    for round_ in range(ROUNDS):
        database = server.database()
        base = tmp_path / str(round_)
        keys = [base / "a" / "keyring.json", base / ("a" if shared_key else "b") / "keyring.json"]
        envs = [
            env_for(
                instance_settings(base / name, server, database, key),
                APPLIANCE_INSTANCE_NAME=f"gateway-{name}",
                APPLIANCE_KEY_FILE=str(key),
            )
            for name, key in zip("ab", keys, strict=True)
        ]
        runs = [
            subprocess.Popen(
                [str(APPLIANCE), "init"],
                env=appliance_env(env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for env in envs
        ]
        outcomes = [(run.wait(timeout=120), *run.communicate()) for run in runs]
        for code, out, err in outcomes:
            assert "Traceback" not in err, err
            assert "IntegrityError" not in err + out, err
            assert "UniqueViolation" not in err + out, err
            assert code in (0, 78), (code, out, err)
        won = [out for code, out, _ in outcomes if code == 0]
        assert won, outcomes
        assert sum("JobRoutr API key:" in out for out in won) == 1, outcomes  # one API key
        for code, _, err in outcomes:
            if code != 0:  # one sentence and a hint (the other lines are the JSON log)
                said = [line for line in err.splitlines() if not line.startswith("{")]
                assert len(said) == 2, err
                assert said[0].startswith("Error: ")
                assert "initialised by another instance" in said[0]
                assert said[1].startswith("Hint: Copy the key file")
        if shared_key:
            assert load_keyring(keys[0]).active == 1
