"""`appliance` as an operator runs it: real processes, real sockets, real signals."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from appliance.config import Settings
from tests.harness.cli import invoke
from tests.harness.processes import (
    APPLIANCE,
    answers,
    appliance_env,
    free_port,
    run_appliance,
    wait_until,
)
from tests.harness.service import Service, env_for, start

pytestmark = pytest.mark.slow

COMMANDS = [
    "init", "serve", "migrate", "rotate-key", "status", "emulator", "tui", "connect",
    "disconnect", "import", "accounts", "settings", "events",
]  # fmt: skip


def test_serve_answers_health_and_status_and_stops_cleanly_on_sigterm(service: Service) -> None:
    assert httpx.get(service.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(service.url + "/readyz").status_code == 200
    assert httpx.get(service.url + "/v1/status").status_code == 404
    emulator = service.env["APPLIANCE_QBO_EMULATOR_URL"]
    discovery = httpx.get(emulator + "/.well-known/openid_configuration")
    assert discovery.json()["token_endpoint"] == emulator + "/oauth2/v1/tokens/bearer"
    assert stat.S_IMODE(service.socket.stat().st_mode) == 0o660

    status = run_appliance("status", "--json", env=service.env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["store"]["schema_current"] is True
    assert report["webhook_secret_set"] is True
    assert report["public_url"] == service.url

    human = run_appliance("status", env=service.env)
    assert "QuickBooks:       not connected" in human.stdout

    code, out, _ = service.stop()
    assert code == 0
    assert not service.socket.exists()
    events = [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]
    assert events[0] == "store.migrated" or "service.started" in events
    assert events[-1] == "service.stopped"


def test_a_request_with_both_content_length_and_chunked_is_refused_with_400(
    idle_service: Service,
) -> None:
    # RFC 9112 6.1: a proxy in front may read the length the other way (request smuggling).
    port = int(idle_service.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/jobroutr HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), raw
    assert b"content-type: application/problem+json" in head.lower()
    assert "both Content-Length and Transfer-Encoding" in json.loads(body)["detail"]


def test_rotate_key_while_the_service_runs_is_done_by_the_service(service: Service) -> None:
    result = run_appliance("rotate-key", env=service.env)
    assert result.returncode == 0, result.stderr
    assert "under key version 2" in result.stdout
    status = json.loads(run_appliance("status", "--json", env=service.env).stdout)
    assert status["store"]["key_version"] == 2
    assert status["store"]["key_rotation_pending"] is False


def test_a_second_service_on_the_same_socket_is_refused_with_a_sentence(
    idle_service: Service,
) -> None:
    second = run_appliance(
        "serve", env={**idle_service.env, "APPLIANCE_HTTP_PORT": str(free_port())}, timeout=30
    )
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert "Traceback" not in second.stderr
    assert answers(idle_service.url + "/healthz")


def test_status_when_the_service_is_not_running_says_how_to_start_it(settings: Settings) -> None:
    result = invoke("status", env=env_for(settings))
    assert result.exit_code == 3
    assert "not running" in result.stderr
    assert "Traceback" not in result.stderr


def test_canary_secrets_never_reach_the_logs_even_at_debug(
    settings: Settings, tmp_path: Path
) -> None:
    secret_file = tmp_path / "client_secret"
    secret_file.write_text("canary-client-secret-7d1e4b\n")
    secret_file.chmod(0o600)
    env = env_for(
        settings,
        APPLIANCE_LOG_LEVEL="DEBUG",
        APPLIANCE_QBO_CLIENT_SECRET_FILE=str(secret_file),
    )
    init = run_appliance("init", env=env)
    assert init.returncode == 0, init.stderr
    # init shows the two JobRoutr secrets once, on stdout, by design; they are canaries from here.
    api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))
    webhook = next(w for w in init.stdout.split() if w.startswith("whsec_"))
    canaries = [api_key, webhook, "canary-client-secret-7d1e4b", "canary-oauth-code-99f1"]

    service = start(env, settings)
    for path in ("/healthz", "/readyz", "/no-such-page"):
        httpx.get(
            f"{service.url}{path}?code=canary-oauth-code-99f1&state=x",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Webhook-Secret": webhook,
                "X-Note": "canary-client-secret-7d1e4b",
            },
        )
    run_appliance("status", env=env)
    run_appliance("rotate-key", env=env)
    code, out, err = service.stop()

    assert code == 0
    logs = out + err + init.stderr
    received = [
        event
        for event in (json.loads(line) for line in out.splitlines() if line.startswith("{"))
        if event["event"] == "http.request_received" and event["query"]
    ]
    assert len(received) == 3, "at DEBUG every request, headers and query, is logged"
    assert received[0]["headers"]["x-note"] == "[REDACTED]"
    assert received[0]["headers"]["authorization"] == "[REDACTED]"
    assert "code=[REDACTED]" in received[0]["query"]
    for canary in canaries:
        assert canary not in logs
    for path in settings.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for canary in canaries:
                assert canary.encode() not in data, path


def test_a_bad_setting_stops_start_up_with_one_sentence_naming_it(settings: Settings) -> None:
    result = run_appliance("serve", env={**env_for(settings), "APPLIANCE_HTTP_PORT": "eighty"})
    assert result.returncode == 78
    assert "APPLIANCE_HTTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) <= 2  # the sentence, and perhaps a hint


def test_a_world_readable_client_secret_file_stops_start_up(
    settings: Settings, tmp_path: Path
) -> None:
    secret_file = tmp_path / "client_secret"
    secret_file.write_text("not-so-secret")
    secret_file.chmod(0o644)
    env = env_for(settings, APPLIANCE_QBO_CLIENT_SECRET_FILE=str(secret_file))
    result = run_appliance("serve", env=env)
    assert result.returncode == 78
    assert "APPLIANCE_QBO_CLIENT_SECRET_FILE" in result.stderr
    assert "chmod 600" in result.stderr
    assert "not-so-secret" not in result.stderr


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None) -> None:
    args = ["--help"] if command is None else [command, "--help"]
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert "Usage: appliance" in result.stdout
    if command is None:
        for name in COMMANDS:
            assert name in result.stdout


def test_the_emulator_command_serves_the_registered_app_it_is_given(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            str(APPLIANCE), "emulator", "--port", str(port), "--client-id", "my-app",
            "--client-secret", "my-secret", "--redirect-uri", "https://example.com/cb",
            "--customers", "50",
        ],
        env=appliance_env({"APPLIANCE_STATE_DIR": str(tmp_path / "state")}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url + "/_emulator/health"), what="the emulator command")
        consent = httpx.get(
            url + "/connect/oauth2",
            params={
                "client_id": "my-app",
                "redirect_uri": "https://example.com/cb",
                "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting",
                "state": "s",
            },
        )
        assert consent.status_code == 200
        default_app = httpx.get(
            url + "/connect/oauth2",
            params={
                "client_id": "jobroutr-appliance-local",
                "redirect_uri": "https://example.com/cb",
                "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting",
            },
        )
        assert default_app.status_code == 400
        companies = httpx.get(url + "/_emulator/companies").json()
        assert companies[0]["counts"]["Customer"] > 50
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0
