"""PostgreSQL at start: a server that cannot be reached, and a password where it must not be.

Neither needs a server: a free port nobody listens on is a database that is down. They run on
every store choice (psycopg is in the dev extra).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.storage.keyring import Keyring, save_keyring
from tests.harness.processes import free_port, run_appliance

EX_USAGE = 2
EX_TEMPFAIL = 75
EX_CONFIG = 78


def down_database_env(tmp_path: Path, short_dir: Path) -> tuple[dict[str, str], str]:
    password = tmp_path / "database-password"
    password.write_text("not-the-point\n")
    password.chmod(0o600)
    where = f"127.0.0.1:{free_port()}"
    return {
        "APPLIANCE_STATE_DIR": str(tmp_path / "state"),
        "APPLIANCE_HTTP_PORT": str(free_port()),
        "APPLIANCE_ADMIN_SOCKET": str(short_dir / "admin.sock"),
        "APPLIANCE_DATABASE_URL": f"postgresql+psycopg://appliance@{where}/appliance",
        "APPLIANCE_DATABASE_PASSWORD_FILE": str(password),
        "APPLIANCE_QBO_EMULATOR_URL": f"http://127.0.0.1:{free_port()}",
    }, where


# `status` opens no store: with no service it says so (exit 3); a running one's is /readyz's.
@pytest.mark.parametrize("command", [("init",), ("migrate",), ("serve",), ("rotate-key",)])
def test_a_database_down_at_start_is_one_sentence_and_exit_75_so_systemd_tries_again(
    command: tuple[str, ...], tmp_path: Path, short_dir: Path
) -> None:
    env, where = down_database_env(tmp_path, short_dir)
    if command != ("init",):  # an appliance `init` set up once, its server down now
        (tmp_path / "state").mkdir(mode=0o700)
        save_keyring(tmp_path / "state" / "keyring.json", Keyring.generate(), create_only=True)
    result = run_appliance(*command, env=env, timeout=60)
    assert result.returncode == EX_TEMPFAIL, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert where in errors[0]
    assert "cannot be reached" in errors[0]
    assert "Hint:" in result.stderr
    assert "PostgreSQL" in result.stderr


def test_a_password_inside_the_database_url_is_refused_and_never_repeated(
    tmp_path: Path, short_dir: Path
) -> None:
    env, where = down_database_env(tmp_path, short_dir)
    env["APPLIANCE_DATABASE_URL"] = f"postgresql+psycopg://appliance:Sup3r-S3cret@{where}/db"
    del env["APPLIANCE_DATABASE_PASSWORD_FILE"]
    for command in ("init", "serve", "status"):
        result = run_appliance(command, env=env)
        assert result.returncode == EX_CONFIG, result.stderr
        assert "APPLIANCE_DATABASE_PASSWORD_FILE" in result.stderr
        assert "Sup3r-S3cret" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def test_backup_and_restore_on_postgresql_give_the_exact_pg_dump_and_pg_restore_commands(
    tmp_path: Path, short_dir: Path
) -> None:
    env, where = down_database_env(tmp_path, short_dir)
    secret = Path(env["APPLIANCE_DATABASE_PASSWORD_FILE"]).read_text().strip()
    host, port = where.split(":")
    dump = tmp_path / "store.dump"
    made = run_appliance("backup", str(dump), env=env)
    assert made.returncode == EX_USAGE, made.stderr
    assert "pg_dump" in made.stderr
    assert (
        f'PGPASSWORD="$(cat {env["APPLIANCE_DATABASE_PASSWORD_FILE"]})" pg_dump --format=custom '
        f"--host={host} --port={port} --username=appliance --dbname=appliance --file={dump}"
    ) in made.stderr
    assert "keyring.json" in made.stderr  # the data key is kept apart, as for SQLite
    dump.write_bytes(b"PGDMP")
    put_back = run_appliance("restore", str(dump), "--yes", env=env)
    assert put_back.returncode == EX_USAGE, put_back.stderr
    assert f"pg_restore --clean --if-exists --no-owner --host={host}" in put_back.stderr
    for result in (made, put_back):
        assert secret not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["init", "serve"])
def test_without_the_postgres_extra_it_says_which_extra_to_install_and_exits_78(
    command: str, tmp_path: Path, short_dir: Path
) -> None:
    """An appliance installed without `[postgres]` (or an image built without
    JOBROUTR_EXTRAS=postgres) pointed at a PostgreSQL server: the driver cannot be imported."""
    env, _ = down_database_env(tmp_path, short_dir)
    hidden = tmp_path / "no-driver" / "psycopg"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('psycopg is not installed here')\n")
    env["PYTHONPATH"] = str(hidden.parent)
    if command == "serve":  # set up once, as in the test above
        (tmp_path / "state").mkdir(mode=0o700)
        save_keyring(tmp_path / "state" / "keyring.json", Keyring.generate(), create_only=True)
    result = run_appliance(command, env=env)
    assert result.returncode == EX_CONFIG, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: The postgresql database driver is not installed in this appliance."
    ], result.stderr
    assert "postgres extra" in result.stderr
    assert "JOBROUTR_EXTRAS=postgres" in result.stderr
