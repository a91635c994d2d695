"""Settings: defaults, the TOML file, the environment, and errors that read as one sentence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.config import (
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    Settings,
    load_settings,
    read_secret_file,
)
from appliance.errors import SettingsError

ISOLATED_VARS = ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No APPLIANCE_* or systemd variable leaks in; HOME and XDG point into tmp_path."""
    for name in list(os.environ):
        if name.startswith("APPLIANCE_") or name in ISOLATED_VARS:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # tests/conftest.py may have made it already
    monkeypatch.setenv("HOME", str(home))
    for xdg in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(xdg, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def write_toml(tmp_path: Path, text: str, name: str = "appliance.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_sentence(message: str) -> None:
    assert "\n" not in message, message
    assert message.endswith("."), message
    assert message[0].isupper(), message
    assert "Traceback" not in message, message
    assert "pydantic" not in message.lower(), message
    assert "errors.pydantic.dev" not in message, message


def settings_error(config: Path | None = None) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    assert_one_sentence(str(info.value))
    return info.value


# Defaults -----------------------------------------------------------------------------------------


def test_defaults_are_a_local_appliance_on_the_emulator(isolated_env: Path) -> None:
    settings = load_settings()

    assert settings.qbo_environment == "emulator"
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8780
    assert settings.public_url == "http://127.0.0.1:8780"
    assert settings.oauth_redirect_uri == "http://127.0.0.1:8780/oauth/callback"
    assert settings.qbo_emulator_url == "http://127.0.0.1:8781"
    assert settings.qbo_client_id == EMULATOR_CLIENT_ID
    assert settings.qbo_client_secret_file is None
    assert settings.qbo_client_secret() == EMULATOR_CLIENT_SECRET
    assert settings.log_level == "INFO"
    assert settings.log_format == "auto"
    assert settings.max_body_bytes == 256 * 1024


def test_default_state_dir_is_under_the_home_directory_xdg_state(isolated_env: Path) -> None:
    settings = load_settings()

    assert settings.state_dir == isolated_env / ".local" / "state" / "jobroutr-appliance"


def test_xdg_state_home_moves_the_default_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))

    assert load_settings().state_dir == tmp_path / "xdg" / "jobroutr-appliance"


def test_systemd_state_directory_wins_over_xdg_and_its_first_entry_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path / 'unit'}:{tmp_path / 'other'}")

    assert load_settings().state_dir == tmp_path / "unit"


def test_database_key_file_and_admin_socket_default_inside_APPLIANCE_STATE_DIR(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("APPLIANCE_STATE_DIR", str(state))

    settings = load_settings()

    assert settings.state_dir == state
    assert settings.database_url == f"sqlite:///{state / 'appliance.db'}"
    assert settings.key_file == state / "keyring.json"
    assert settings.key_path == state / "keyring.json"
    assert settings.admin_socket_path == state / "admin.sock"


def test_a_relative_APPLIANCE_STATE_DIR_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_STATE_DIR", "relative/state")

    settings = load_settings()

    assert settings.state_dir.is_absolute()
    assert settings.state_dir == tmp_path / "relative" / "state"
    assert settings.database_url == f"sqlite:///{tmp_path / 'relative' / 'state' / 'appliance.db'}"


def test_systemd_runtime_directory_holds_the_admin_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))

    assert load_settings().admin_socket_path == tmp_path / "run" / "admin.sock"


def test_explicit_database_url_and_key_file_are_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("APPLIANCE_DATABASE_URL", "sqlite:////elsewhere/db.sqlite")
    monkeypatch.setenv("APPLIANCE_KEY_FILE", str(tmp_path / "keys" / "k.json"))

    settings = load_settings()

    assert settings.database_url == "sqlite:////elsewhere/db.sqlite"
    assert settings.key_path == tmp_path / "keys" / "k.json"


def test_settings_are_frozen_after_loading() -> None:
    settings = load_settings()

    with pytest.raises(ValueError, match="frozen"):
        settings.http_port = 1  # type: ignore[misc]


# The TOML file ------------------------------------------------------------------------------------


FULL_TOML = """\
state_dir = "~/appliance-state"

[http]
host = "192.0.2.10"
port = 9000

[qbo]
emulator_url = "http://127.0.0.1:9999/"

[log]
level = "debug"
format = "json"

[admin]
group = "ops"
"""


def test_a_toml_file_sets_top_level_keys_and_every_table(
    isolated_env: Path, tmp_path: Path
) -> None:
    settings = load_settings(write_toml(tmp_path, FULL_TOML))

    assert settings.state_dir == isolated_env / "appliance-state"
    assert settings.http_host == "192.0.2.10"
    assert settings.http_port == 9000
    assert settings.public_url == "http://192.0.2.10:9000"
    assert settings.qbo_emulator_url == "http://127.0.0.1:9999"
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.admin_group == "ops"


def test_APPLIANCE_CONFIG_names_the_toml_file_when_no_path_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_CONFIG", str(write_toml(tmp_path, "[http]\nport = 9001\n")))

    assert load_settings().http_port == 9001


def test_an_environment_variable_overrides_the_toml_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write_toml(tmp_path, FULL_TOML)
    monkeypatch.setenv("APPLIANCE_HTTP_PORT", "9100")
    monkeypatch.setenv("APPLIANCE_LOG_FORMAT", "console")

    settings = load_settings(config)

    assert settings.http_port == 9100
    assert settings.log_format == "console"
    # What the environment does not name still comes from the file.
    assert settings.http_host == "192.0.2.10"
    assert settings.log_level == "DEBUG"


def test_the_toml_value_overrides_the_default_without_an_environment_variable(
    tmp_path: Path,
) -> None:
    settings = load_settings(write_toml(tmp_path, '[qbo]\nclient_id = "from-file"\n'))

    assert settings.qbo_client_id == "from-file"


# Errors: one sentence that names the setting ------------------------------------------------------


@pytest.mark.parametrize(("value", "detail"), [("eighty", "integer"), ("70000", "65535")])
def test_a_bad_port_in_the_environment_names_APPLIANCE_HTTP_PORT_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, value: str, detail: str
) -> None:
    monkeypatch.setenv("APPLIANCE_HTTP_PORT", value)

    error = settings_error()

    message = str(error)
    assert "APPLIANCE_HTTP_PORT" in message
    assert "`http.port`" in message
    assert repr(value) in message
    assert detail in message
    assert error.setting == "http_port"


@pytest.mark.parametrize(("value", "detail"), [('"eighty"', "integer"), ("70000", "65535")])
def test_a_bad_port_in_the_toml_file_names_the_env_var_the_toml_key_and_the_file(
    tmp_path: Path, value: str, detail: str
) -> None:
    config = write_toml(tmp_path, f"[http]\nport = {value}\n")

    error = settings_error(config)

    message = str(error)
    assert "APPLIANCE_HTTP_PORT" in message
    assert f"`http.port` in {config}" in message
    assert detail in message
    assert error.setting == "http_port"


def test_a_port_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_HTTP_PORT", "0")

    assert "APPLIANCE_HTTP_PORT" in str(settings_error())


def test_an_unknown_top_level_key_in_toml_is_refused_by_name(tmp_path: Path) -> None:
    config = write_toml(tmp_path, 'colour = "red"\n')

    error = settings_error(config)

    assert str(error) == f"Unknown setting `colour` in {config}."
    assert error.setting == "colour"


def test_an_unknown_key_inside_a_known_table_is_refused_with_its_dotted_name(
    tmp_path: Path,
) -> None:
    config = write_toml(tmp_path, "[http]\nprot = 9000\n")

    error = settings_error(config)

    assert "`http.prot`" in str(error)
    assert str(config) in str(error)


def test_an_unknown_table_in_toml_is_refused_by_name(tmp_path: Path) -> None:
    config = write_toml(tmp_path, "[database]\nurl = 'x'\n")

    error = settings_error(config)

    assert "[database]" in str(error)
    assert str(config) in str(error)
    assert "[http]" in error.hint


def test_a_missing_config_file_is_a_sentence_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    error = settings_error(missing)

    assert str(missing) in str(error)
    assert "does not exist" in str(error)
    assert error.setting == "config"


def test_a_missing_file_named_by_APPLIANCE_CONFIG_is_a_sentence_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("APPLIANCE_CONFIG", str(missing))

    assert str(missing) in str(settings_error())


def test_malformed_toml_is_a_sentence_naming_the_file(tmp_path: Path) -> None:
    config = write_toml(tmp_path, "[http\nport = = 1\n")

    error = settings_error(config)

    assert str(config) in str(error)
    assert "not valid TOML" in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_an_unreadable_config_path_is_a_sentence_naming_it(tmp_path: Path) -> None:
    directory = tmp_path / "conf.d"
    directory.mkdir()

    error = settings_error(directory)

    assert str(directory) in str(error)
    assert "cannot be read" in str(error)


def test_an_unknown_qbo_environment_is_refused_listing_the_allowed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", "staging")

    message = str(settings_error())

    assert "APPLIANCE_QBO_ENVIRONMENT" in message
    for allowed in ("production", "sandbox", "emulator"):
        assert allowed in message
    assert "'staging'" in message


@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_a_real_intuit_environment_requires_the_client_id(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", environment)
    monkeypatch.setenv("APPLIANCE_PUBLIC_URL", "https://gw.example.com")

    message = str(settings_error())

    assert "APPLIANCE_QBO_CLIENT_ID is required" in message
    assert environment in message


@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_a_real_intuit_environment_requires_the_client_secret_file(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", environment)
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_ID", "intuit-app")
    monkeypatch.setenv("APPLIANCE_PUBLIC_URL", "https://gw.example.com")

    message = str(settings_error())

    assert "APPLIANCE_QBO_CLIENT_SECRET_FILE is required" in message
    assert environment in message


def test_production_requires_an_https_public_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", "production")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_ID", "intuit-app")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("APPLIANCE_PUBLIC_URL", "http://gw.example.com")

    message = str(settings_error())

    assert "APPLIANCE_PUBLIC_URL" in message
    assert "https://" in message


def test_production_without_a_public_url_is_refused_because_the_default_is_http(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", "production")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_ID", "intuit-app")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_SECRET_FILE", str(tmp_path / "secret"))

    assert "APPLIANCE_PUBLIC_URL" in str(settings_error())


def test_production_with_id_secret_file_and_https_url_loads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", "production")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_ID", "intuit-app")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("APPLIANCE_PUBLIC_URL", "https://gw.example.com/")

    settings = load_settings()

    assert settings.qbo_environment == "production"
    assert settings.qbo_client_id == "intuit-app"
    assert settings.public_url == "https://gw.example.com"
    assert settings.oauth_redirect_uri == "https://gw.example.com/oauth/callback"


def test_sandbox_accepts_an_http_public_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_ID", "intuit-app")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_SECRET_FILE", str(tmp_path / "secret"))

    assert load_settings().public_url == "http://127.0.0.1:8780"


def test_the_production_rules_also_apply_to_values_from_the_toml_file(tmp_path: Path) -> None:
    config = write_toml(tmp_path, '[qbo]\nenvironment = "production"\n')

    message = str(settings_error(config))

    assert "APPLIANCE_QBO_CLIENT_ID is required" in message


@pytest.mark.parametrize(
    "url", ["ftp://gw.example.com", "gw.example.com", "https://gw.example.com/?x=1"]
)
def test_a_public_url_that_is_not_a_plain_http_base_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("APPLIANCE_PUBLIC_URL", url)

    message = str(settings_error())

    assert "APPLIANCE_PUBLIC_URL" in message
    assert repr(url) in message


def test_a_log_level_is_case_insensitive_but_must_be_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPLIANCE_LOG_LEVEL", "warning")
    assert load_settings().log_level == "WARNING"

    monkeypatch.setenv("APPLIANCE_LOG_LEVEL", "verbose")
    assert "APPLIANCE_LOG_LEVEL" in str(settings_error())


def test_a_too_small_body_limit_is_refused_naming_APPLIANCE_MAX_BODY_BYTES(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPLIANCE_MAX_BODY_BYTES", "10")

    error = settings_error()

    assert "APPLIANCE_MAX_BODY_BYTES" in str(error)
    assert error.setting == "max_body_bytes"


# Secret files -------------------------------------------------------------------------------------


def write_secret(path: Path, value: str, mode: int = 0o600) -> Path:
    path.write_text(value, encoding="utf-8")
    path.chmod(mode)
    return path


def test_read_secret_file_returns_the_stripped_contents(tmp_path: Path) -> None:
    path = write_secret(tmp_path / "client_secret", "s3cr3t-value\n")

    assert read_secret_file(path, setting="qbo_client_secret_file") == "s3cr3t-value"


def test_a_group_readable_secret_file_is_accepted(tmp_path: Path) -> None:
    path = write_secret(tmp_path / "client_secret", "s3cr3t-value", mode=0o640)

    assert read_secret_file(path, setting="qbo_client_secret_file") == "s3cr3t-value"


def test_a_world_readable_secret_file_is_refused_with_a_chmod_hint(tmp_path: Path) -> None:
    path = write_secret(tmp_path / "client_secret", "s3cr3t-value", mode=0o644)

    with pytest.raises(SettingsError) as info:
        read_secret_file(path, setting="qbo_client_secret_file")

    message = str(info.value)
    assert_one_sentence(message)
    assert "APPLIANCE_QBO_CLIENT_SECRET_FILE" in message
    assert str(path) in message
    assert "every user can read" in message
    assert "s3cr3t-value" not in message
    assert "chmod 600" in info.value.hint
    assert info.value.setting == "qbo_client_secret_file"


def test_a_missing_secret_file_is_a_sentence_naming_the_setting_and_path(tmp_path: Path) -> None:
    path = tmp_path / "absent"

    with pytest.raises(SettingsError) as info:
        read_secret_file(path, setting="qbo_client_secret_file")

    message = str(info.value)
    assert_one_sentence(message)
    assert "APPLIANCE_QBO_CLIENT_SECRET_FILE" in message
    assert str(path) in message
    assert "cannot be read" in message
    assert info.value.__suppress_context__


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = write_secret(tmp_path / "client_secret", "  \n")

    with pytest.raises(SettingsError, match="is empty") as info:
        read_secret_file(path, setting="qbo_client_secret_file")

    assert_one_sentence(str(info.value))


def test_a_relative_secret_name_is_found_in_CREDENTIALS_DIRECTORY(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write_secret(credentials / "intuit-secret", "from-systemd")
    # A file of the same name in the working directory must not be the one read.
    write_secret(tmp_path / "intuit-secret", "from-cwd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    value = read_secret_file(Path("intuit-secret"), setting="qbo_client_secret_file")

    assert value == "from-systemd"


def test_a_relative_secret_name_absent_from_CREDENTIALS_DIRECTORY_is_read_from_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write_secret(tmp_path / "intuit-secret", "from-cwd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    value = read_secret_file(Path("intuit-secret"), setting="qbo_client_secret_file")

    assert value == "from-cwd"


def test_an_absolute_secret_path_ignores_CREDENTIALS_DIRECTORY(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write_secret(credentials / "secret", "from-systemd")
    absolute = write_secret(tmp_path / "secret", "from-absolute-path")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    assert read_secret_file(absolute, setting="qbo_client_secret_file") == "from-absolute-path"


def test_the_client_secret_is_read_from_the_file_named_by_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write_secret(credentials / "intuit-client-secret", "real-intuit-secret")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("APPLIANCE_QBO_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_ID", "intuit-app")
    monkeypatch.setenv("APPLIANCE_QBO_CLIENT_SECRET_FILE", "intuit-client-secret")

    settings = load_settings()

    assert settings.qbo_client_secret() == "real-intuit-secret"
    # The secret itself is never part of the settings object.
    assert "real-intuit-secret" not in repr(settings)


def test_settings_can_be_built_directly_with_keyword_values(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "s", http_port=8999)

    assert settings.http_port == 8999
    assert settings.key_path == tmp_path / "s" / "keyring.json"
