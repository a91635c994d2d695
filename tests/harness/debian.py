"""Debian 12 root filesystems built here with debootstrap, cached, for the deploy tests.

No image registry answers from these machines, so the container's base image (PYTHON_IMAGE) and
the machine the systemd unit boots in are both made from Debian's own packages:

    python   Debian 12 with Python 3.11, venv, `python` and the user tools: the Dockerfile's base
    systemd  the same plus systemd as PID 1, for `systemd-nspawn -b`

Each is built once into CACHE/<name> (about 2 minutes each on a 2-core machine, the .debs kept in
CACHE/debs) and reused by later runs while its package list is unchanged. The machine's CA bundle
is copied in, because the way out to PyPI passes through a proxy with its own certificate.
Building needs root and debootstrap (`apt-get install debootstrap`); `unavailable()` says why not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

CACHE = Path(os.environ.get("JOBROUTR_TEST_CACHE", "/var/cache/jobroutr-tests"))
MIRROR = os.environ.get("JOBROUTR_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

PYTHON = (
    "python3",
    "python3-venv",
    "python-is-python3",
    "ca-certificates",
    "passwd",
    "procps",
)
SYSTEMD = (*PYTHON, "systemd", "systemd-sysv", "dbus", "libpam-systemd", "iproute2", "sudo")
FLAVOURS = {"python": PYTHON, "systemd": SYSTEMD}


class Unavailable(Exception):
    """This machine cannot build the root filesystem; the message says why, in one sentence."""


def unavailable() -> str | None:
    """Why no root filesystem can be built here, or None when it can."""
    if os.geteuid() != 0:
        return "building a Debian root filesystem needs root (debootstrap)"
    if shutil.which("debootstrap") is None and not _apt_install("debootstrap"):
        return "debootstrap is not installed and `apt-get install debootstrap` failed"
    return None


def _apt_install(*packages: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", *packages]
    done = subprocess.run(command, env=env, capture_output=True, check=False, timeout=900)
    return done.returncode == 0


def _stamp(packages: tuple[str, ...]) -> str:
    return hashlib.sha256(" ".join((SUITE, MIRROR, *sorted(packages))).encode()).hexdigest()[:16]


def rootfs(flavour: str) -> Path:
    """CACHE/<flavour>: built now when missing or built from another package list."""
    packages = FLAVOURS[flavour]
    target = CACHE / flavour
    stamp = target / ".jobroutr-rootfs"
    if stamp.exists() and stamp.read_text().strip() == _stamp(packages):
        _install_ca_bundle(target)
        return target
    why = unavailable()
    if why:
        raise Unavailable(why)
    building = CACHE / f"{flavour}.building"
    shutil.rmtree(building, ignore_errors=True)
    (CACHE / "debs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            f"--cache-dir={CACHE / 'debs'}",
            SUITE,
            str(building),
            MIRROR,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise Unavailable(f"debootstrap {SUITE} failed: {' / '.join(tail)}")
    (building / "var/cache/apt/archives").mkdir(parents=True, exist_ok=True)
    for deb in (building / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    (building / ".jobroutr-rootfs").write_text(_stamp(packages) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    _install_ca_bundle(target)
    print(f"debian: built {target} in {time.monotonic() - started:.0f} s")
    return target


def _install_ca_bundle(target: Path) -> None:
    """The machine's CA bundle in the root filesystem, as the one every TLS client there reads."""
    if HOST_CA_BUNDLE.is_file():
        bundle = target / HOST_CA_BUNDLE.relative_to("/")
        bundle.parent.mkdir(parents=True, exist_ok=True)
        if not bundle.exists() or bundle.read_bytes() != HOST_CA_BUNDLE.read_bytes():
            shutil.copyfile(HOST_CA_BUNDLE, bundle)


def copy_of(flavour: str, destination: Path) -> Path:
    """A private writable copy of a cached root filesystem (cp -a; hard links would share edits)."""
    source = rootfs(flavour)
    shutil.rmtree(destination, ignore_errors=True)
    subprocess.run(["cp", "-a", str(source), str(destination)], check=True, timeout=600)
    return destination
