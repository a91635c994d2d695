"""Production readiness checks: what `appliance status` says about the clock, the disk, the
public URL's certificate and the QuickBooks authorization."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.core.admin import ConnectionInfo
from appliance.sync import readiness

NOW = dt.datetime.now(dt.UTC)


def test_the_clock_is_judged_by_how_far_it_is_from_quickbooks() -> None:
    assert readiness.clock_check(None, None).state == "unknown"
    assert readiness.clock_check(2.0, NOW).state == "ok"
    late = readiness.clock_check(-45.0, NOW)
    assert (late.state, late.detail) == ("warn", "45 s behind QuickBooks' clock.")
    far = readiness.clock_check(600.0, NOW)
    assert far.state == "fail"
    assert far.hint is not None
    assert "timedatectl" in far.hint


class Usage(NamedTuple):
    total: int
    used: int
    free: int


@pytest.mark.parametrize(
    ("free", "state"),
    [(50 << 30, "ok"), (600 << 20, "warn"), (3 << 30, "warn"), (50 << 20, "fail")],
)
def test_disk_space(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, free: int, state: str) -> None:
    total = 100 << 30
    monkeypatch.setattr(shutil, "disk_usage", lambda _: Usage(total, total - free, free))
    assert readiness.disk_check(tmp_path).state == state


def test_the_real_disk_is_measured(tmp_path: Path) -> None:
    check = readiness.disk_check(tmp_path)
    assert check.state in ("ok", "warn", "fail")
    assert "GiB free" in check.detail


def connection(state: str = "connected", days: float = 90) -> ConnectionInfo:
    return ConnectionInfo(
        realm_id="1",
        company_name="Co",
        environment="production",
        state=state,
        refresh_token_expires_at=NOW + dt.timedelta(days=days),
    )


def test_the_authorization() -> None:
    assert readiness.token_check(connection(), NOW).state == "ok"
    assert readiness.token_check(connection(days=5), NOW).state == "warn"
    assert readiness.token_check(connection(days=-1), NOW).state == "fail"
    assert readiness.token_check(connection("needs_reconnect"), NOW).state == "fail"
    assert readiness.token_check(None, NOW).state == "warn"


# The certificate: a TLS server on 127.0.0.1 with a certificate from a CA made here.


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(tmp_path: Path, days: int) -> tuple[Path, Path, Path]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Test CA {days}"))  # each CA its own name, or lookups mix them
        .issuer_name(_name(f"Test CA {days}"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def tls_server(cert_file: Path, key_file: Path) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.fixture
def certificates(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """(the CAs' file, a port with a certificate good for 200 days, one good for 10 days)."""
    made = {}
    for name, days in (("long", 200), ("short", 10)):
        (tmp_path / name).mkdir()
        made[name] = make_certificates(tmp_path / name, days)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(made["long"][0].read_bytes() + made["short"][0].read_bytes())
    servers = [tls_server(made[name][1], made[name][2]) for name in ("long", "short")]
    ports = [next(server) for server in servers]
    try:
        yield bundle, ports[0], ports[1]
    finally:
        for server in servers:
            next(server, None)


def test_the_certificate_of_the_public_url(
    certificates: tuple[Path, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, long_port, short_port = certificates
    # Not trusted: a CA this machine does not know.
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle.with_name("nothing.pem")))
    untrusted = readiness.certificate_check(f"https://localhost:{long_port}", NOW)
    assert untrusted.state == "fail"
    assert "not trusted" in untrusted.detail
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # now it is trusted
    good = readiness.certificate_check(f"https://localhost:{long_port}", NOW)
    assert good.state == "ok", good.detail
    assert "(200 days)" in good.detail or "(199 days)" in good.detail
    soon = readiness.certificate_check(f"https://localhost:{short_port}", NOW)
    assert soon.state == "warn"
    assert "days)" in soon.detail
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    nobody = readiness.certificate_check(f"https://localhost:{closed}", NOW, timeout=2)
    assert nobody.state == "fail"
    assert readiness.certificate_check("http://127.0.0.1:8780", NOW).state == "unknown"


def test_the_certificate_is_looked_at_once_in_a_while() -> None:
    calls: list[str] = []

    def check(url: str, now: dt.datetime) -> readiness.ReadinessCheck:
        calls.append(url)
        return readiness.ReadinessCheck(name="certificate", state="ok", detail="fine")

    cache = readiness.CertificateCache(check)
    for _ in range(5):
        cache.get("https://a.example", NOW)
    cache.get("https://b.example", NOW)
    assert calls == ["https://a.example", "https://b.example"]


def test_the_store_check_names_a_postgresql_server_that_is_down_and_says_when_it_answers(
    tmp_path: Path,
) -> None:
    import psycopg  # noqa: PLC0415 - the postgres extra, in dev

    from appliance.storage.health import StoreHealth  # noqa: PLC0415

    health = StoreHealth(tmp_path, "postgresql+psycopg://appliance:***@db.internal:5432/app")
    answering = readiness.store_check(health, sqlite=False)
    assert answering.state == "ok"
    assert "PostgreSQL" in answering.detail
    refused = health.failed("unreachable", psycopg.OperationalError("Connection refused"))
    assert refused.http_status == 503
    down = readiness.store_check(health, sqlite=False)
    assert down.state == "fail"
    assert "db.internal:5432" in down.detail
    assert "cannot be reached" in down.detail
    assert "disk" not in down.detail
    health.worked()
    assert readiness.store_check(health, sqlite=False).state == "ok"
