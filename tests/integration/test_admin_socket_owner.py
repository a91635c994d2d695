"""The CLI hands the admin socket the OAuth code and settings: it talks only to a socket that
root, the operator or the service's user owns, never to one another user put there."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.core.admin import StatusReport
from appliance.core.admin_client import AdminClient, trusted_owners
from appliance.errors import ApplianceError, ServiceNotAnsweringError, UntrustedSocketError
from tests.harness.processes import run_appliance
from tests.harness.service import env_for

NOBODY = 65534


@pytest.fixture
def impostor(settings: Settings) -> Iterator[socket.socket]:
    """A listener on the admin socket's path, as another user would leave one there."""
    if os.geteuid() != 0:
        pytest.skip("giving the socket to another user (chown) needs root")
    settings.state_dir.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(settings.admin_socket_path))
    listener.listen(8)
    listener.settimeout(0.5)
    os.chown(settings.admin_socket_path, NOBODY, NOBODY)
    yield listener
    listener.close()


def nothing_connected(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        return True
    conn.close()
    return False


def test_the_client_refuses_a_socket_another_user_owns_and_sends_nothing(
    settings: Settings, impostor: socket.socket
) -> None:
    client = AdminClient(settings.admin_socket_path, service_dir=settings.state_dir)
    with client, pytest.raises(UntrustedSocketError) as refused:
        client.get("/v1/status", StatusReport)
    assert f"uid {NOBODY}" in refused.value.message
    assert str(settings.admin_socket_path) in refused.value.message
    assert refused.value.hint
    assert nothing_connected(impostor)


def test_connect_does_not_hand_the_code_to_a_socket_another_user_owns(
    settings: Settings, impostor: socket.socket
) -> None:
    location = "http://127.0.0.1:8780/oauth/callback?code=AB11secret&state=s&realmId=1"
    result = run_appliance("connect", "--redirect-url", location, env=env_for(settings))
    assert result.returncode == 1
    assert f"uid {NOBODY}" in result.stderr
    assert "Hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert nothing_connected(impostor)


def test_a_socket_in_a_directory_root_gave_the_service_user_is_trusted(tmp_path: Path) -> None:
    """As systemd's RuntimeDirectory: /run (root's) / jobroutr-gateway (the service's) /
    admin.sock (the service's); an operator may not be able to see the state directory."""
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user (chown) needs root")
    base = Path("/run") if os.access("/run", os.W_OK) else None
    if base is None:
        pytest.skip("/run is not writable here")
    runtime = base / f"jra-test-{os.getpid()}"
    runtime.mkdir(mode=0o750)
    try:
        os.chown(runtime, NOBODY, NOBODY)
        assert NOBODY in trusted_owners(runtime / "admin.sock", None)
        # The same layout under a directory anyone may write to proves nothing.
        shared = tmp_path / "open"
        shared.mkdir()
        shared.chmod(0o1777)
        placed = shared / "svc"
        placed.mkdir()
        os.chown(placed, NOBODY, NOBODY)
        assert NOBODY not in trusted_owners(placed / "admin.sock", None)
    finally:
        runtime.rmdir()


def test_a_socket_that_never_answers_is_a_sentence_not_a_traceback(short_dir: Path) -> None:
    path = short_dir / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(8)  # accepted by the kernel, never read: a hung service
        client = AdminClient(path, timeout=0.5)
        with client, pytest.raises(ServiceNotAnsweringError) as silent:
            client.get("/v1/status", StatusReport)
    assert str(path) in silent.value.message
    assert silent.value.hint


def _as_nobody(path: Path) -> str:
    """What AdminClient raises for a user outside the socket's group: its class and message, from
    a child process that became uid/gid nobody (the code it runs is already loaded)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            with AdminClient(path, timeout=2) as client:
                client.get("/v1/status", StatusReport)
            said = "no error"
        except ApplianceError as exc:
            said = f"{type(exc).__name__}: {exc.message} / {exc.hint}"
        except BaseException as exc:
            said = f"{type(exc).__name__}: {exc}"
        os.write(write, said.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    return said


def test_an_operator_outside_the_group_is_told_permission_denied_not_not_running(
    short_dir: Path,
) -> None:
    """As under systemd: /run/jobroutr-gateway is 0750 (the service's user, the operators' group)
    and the socket in it 0660. The service runs; a user of neither is refused by the kernel."""
    if os.geteuid() != 0:
        pytest.skip("becoming another user (setresuid) needs root")
    runtime = short_dir / "run"
    runtime.mkdir(mode=0o750)
    path = runtime / "admin.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(8)
        os.chmod(path, 0o660)
        short_dir.chmod(0o755)
        with AdminClient(path, timeout=0.2) as client, pytest.raises(ServiceNotAnsweringError):
            client.get("/v1/status", StatusReport)  # root reaches it: loads what the child needs
        said = _as_nobody(path)
        assert said.startswith("AdminSocketDeniedError: Permission denied"), said
        assert f"directory {runtime}" in said
        assert "operators' group" in said
        # The directory open to all, the socket not: the socket is named as the closed one.
        runtime.chmod(0o755)
        said = _as_nobody(path)
        assert said.startswith("AdminSocketDeniedError: Permission denied"), said
        assert "not running" not in said
