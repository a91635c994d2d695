"""The example configurations in config/ are valid and mean what their comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import EMULATOR_CLIENT_SECRET, Settings, load_settings

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_the_local_example_is_exactly_the_embedded_defaults() -> None:
    assert load_settings(CONFIG / "local.toml") == Settings()


def test_the_production_example_loads_with_its_secret_from_systemd_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "qbo-client-secret").write_text("production-secret-from-intuit\n")
    (credentials / "qbo-client-secret").chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    settings = load_settings(CONFIG / "appliance.example.toml")

    assert settings.qbo_environment == "production"
    assert settings.public_url == "https://qbo-gateway.example.com"
    assert settings.oauth_redirect_uri == "https://qbo-gateway.example.com/oauth/callback"
    assert settings.admin_group == "jobroutr-ops"
    assert settings.qbo_client_secret() == "production-secret-from-intuit"
    assert settings.qbo_client_secret() != EMULATOR_CLIENT_SECRET


def test_the_environment_overrides_the_production_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLIANCE_HTTP_PORT", "9000")
    settings = load_settings(CONFIG / "appliance.example.toml")
    assert settings.http_port == 9000
