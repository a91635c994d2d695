"""Who did it, in the audit log: the uid the kernel reports for the admin socket's peer, with the
name the client claims only beside it."""

from __future__ import annotations

import os
import socket

import httpx
import pytest
from sqlalchemy import text

from appliance.config import Settings
from appliance.storage.db import create_store_engine
from tests.harness.service import Service

pytestmark = pytest.mark.slow
NOBODY = 65534


def last_actor(settings: Settings, action: str) -> str:
    engine = create_store_engine(settings.database_url, settings.database_password())
    try:
        with engine.connect() as db:
            row = db.execute(
                text("SELECT actor FROM audit_log WHERE action = :action ORDER BY id DESC LIMIT 1"),
                {"action": action},
            ).first()
    finally:
        engine.dispose()
    assert row, f"no {action} in the audit log"
    return str(row[0])


def test_a_forged_operator_header_is_audited_under_the_real_uid(
    service: Service, settings: Settings
) -> None:
    with httpx.Client(
        transport=httpx.HTTPTransport(uds=str(service.socket)), base_url="http://appliance"
    ) as admin:
        response = admin.post("/v1/keys/rotate", headers={"X-Appliance-Operator": "alice@cli"})
    assert response.status_code == 200, response.text
    uid = os.geteuid()
    actor = last_actor(settings, "key.rotated")
    assert actor.startswith(f"uid {uid} ("), actor
    assert actor.endswith(", says alice@cli"), actor


def rotate_as(uid: int, socket_path: str, claimed: str) -> str:
    """POST /v1/keys/rotate from a forked child running as ``uid``; returns the status line."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exec, so no interpreter the other user must be able to read
        status = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(30)
                conn.connect(socket_path)
                conn.sendall(
                    b"POST /v1/keys/rotate HTTP/1.1\r\nHost: appliance\r\n"
                    + f"X-Appliance-Operator: {claimed}\r\n".encode()
                    + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                os.write(write, conn.recv(200).split(b"\r\n")[0])
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        line = answer.read().decode()
    os.waitpid(pid, 0)
    return line


def test_another_user_claiming_to_be_root_is_audited_as_themselves(
    service: Service, settings: Settings
) -> None:
    if os.geteuid() != 0:
        pytest.skip("connecting as another user (setuid) needs root")
    # Let uid nobody reach the socket, as a member of the operators' group would.
    service.socket.parent.chmod(0o711)
    service.socket.chmod(0o666)
    assert " 200 " in rotate_as(NOBODY, str(service.socket), "root@cli")
    actor = last_actor(settings, "key.rotated")
    assert actor.startswith(f"uid {NOBODY}"), actor
    assert actor.endswith("says root@cli"), actor
