"""The systemd unit (systemd/jobroutr-gateway.service), checked as far as a machine without systemd
as PID 1 allows.

What these tests check:

- The whole unit, scored by `systemd-analyze security --offline=true --threshold=20`: it must
  pass (exposure 2.0 or lower, "OK"); the score is in the assertion message.
- The unit file, parsed by `systemd-analyze verify` (a copy whose ExecStart= names this venv's
  `appliance`, since /opt/jobroutr-gateway is not installed here): no error and no warning, so a
  misspelt directive or a bad value fails. The sysusers.d snippet, run by `systemd-sysusers
  --root=<tmp>`: it creates the operators' group.
- That the unit and the code agree: the credential's name is the secret file's name, the admin
  group is the unit's own group (see "PrivateUsers" in docs/install.md), the stop timeout outlasts
  the service's drain, a bad setting (exit 78) is not restarted.
- That the install guide names only commands, settings and directives that exist, and that its
  appliance.toml loads and agrees with the unit.
- The service, run with what the unit gives it, read from the unit file: its Environment=, the
  StateDirectory/RuntimeDirectory/LoadCredential directories and their modes as $STATE_DIRECTORY,
  $RUNTIME_DIRECTORY and $CREDENTIALS_DIRECTORY, UMask=, LimitNOFILE=, KillSignal= and
  TimeoutStopSec=. `init` then `serve`; the state is owner-only, the admin socket is 0660 and the
  group's, `status`, `connect` (the service calls the bundled QBO emulator and seals the tokens)
  and `rotate-key` work over it, the client secret was read from the credential (the emulator's
  app accepts it and refuses the default secret), SIGTERM stops it with exit 0 within
  TimeoutStopSec=.
- The same run again inside the unit's sandbox, where this machine can apply it (root, libseccomp,
  mount namespaces), set up here rather than by systemd: no capabilities (CapabilityBoundingSet=,
  AmbientCapabilities=), NoNewPrivileges=, Group= as the primary group, ProtectSystem=strict (the
  whole tree read-only except the state and runtime directories), ProtectProc=invisible and
  ProcSubset=pid (a /proc of its own), SystemCallFilter= (the unit's sets, expanded by
  `systemd-analyze syscall-filter`, anything else kills the process: stricter than the unit's
  SystemCallErrorNumber=EPERM), SystemCallArchitectures=native, MemoryDenyWriteExecute=,
  RestrictAddressFamilies= and RestrictNamespaces= as systemd 252 writes them in seccomp. The
  kernel's view of the running service confirms it; an operator (uid nobody) in the group reaches
  the socket, one outside it does not; a probe sees each restriction refuse.

Not run here, because this machine's PID 1 is not systemd (`systemd-run` and `systemctl` refuse;
tests/deploy/test_unit.py runs the unit itself under systemd-nspawn): DynamicUser= (a transient
uid), PrivateUsers=, PrivateTmp=, PrivateDevices=, ProtectHome= (the test's interpreter may live
in a home directory), the Protect{Kernel*,ControlGroups,Clock,Hostname}= mounts,
LockPersonality=, RestrictRealtime=, RestrictSUIDSGID=, KeyringMode=, RemoveIPC= and Restart=.
docs/install.md says which directive was verified how.
"""

from __future__ import annotations

import grp
import inspect
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.cli import EXIT_CONFIG, main
from appliance.config import (
    CONFIG_ENV,
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    Settings,
    env_name,
    load_settings,
)
from appliance.errors import SettingsError
from appliance.gateway.connections import RESERVED_DESCRIPTORS
from appliance.gateway.server import GRACEFUL_SECONDS
from tests.harness.emulator import approve
from tests.harness.processes import APPLIANCE, ROOT, answers, appliance_env, free_port, wait_until

UNIT = ROOT / "systemd" / "jobroutr-gateway.service"
SYSUSERS = ROOT / "systemd" / "sysusers.d" / "jobroutr-gateway.conf"
GUIDE = ROOT / "docs" / "install.md"
REALM = "9341453050071776"  # the emulator's first company
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
SYSTEMD_SYSUSERS = shutil.which("systemd-sysusers")
needs_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian/Ubuntu: apt install systemd)",
)


# --- reading the unit -----------------------------------------------------------------------------


@dataclass
class Unit:
    path: Path
    entries: list[tuple[str, str, str]] = field(default_factory=list)  # section, key, value

    def all(self, key: str, section: str = "Service") -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def one(self, key: str, section: str = "Service") -> str:
        found = self.all(key, section)
        assert len(found) == 1, f"expected one {key}= in [{section}], found {found}"
        return found[0]

    def flag(self, key: str) -> bool:
        values = self.all(key)
        return bool(values) and values[-1].lower() in ("yes", "true", "on", "1")

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for line in self.all("Environment"):
            for word in shlex.split(line):
                name, _, value = word.partition("=")
                env[name] = value
        return env

    def seconds(self, key: str) -> float:
        value = self.one(key)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min|m)?", value)
        assert match, f"{key}={value} is not a time span these tests read"
        return float(match[1]) * (60 if match[2] in ("min", "m") else 1)

    def mode(self, key: str) -> int:
        return int(self.one(key), 8)


def read_unit(path: Path = UNIT) -> Unit:
    unit = Unit(path)
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {raw!r}"
        unit.entries.append((section, key.strip(), value.strip()))
    return unit


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


# --- the unit, scored and parsed by systemd's own tools -------------------------------------------


@needs_analyze
def test_the_unit_passes_systemd_analyze_security_offline() -> None:
    assert SYSTEMD_ANALYZE is not None
    result = run_tool(SYSTEMD_ANALYZE, "security", "--offline=true", "--threshold=20", str(UNIT))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert found, result.stdout + result.stderr
    score = f"exposure {found[1]} {found[2]}"
    assert result.returncode == 0, f"{score}, over the threshold of 2.0:\n{result.stdout}"
    assert float(found[1]) <= 2.0, score
    print(f"systemd-analyze security: {score}")  # shown with -s or -rA


@needs_analyze
def test_the_unit_file_verifies_without_a_warning(tmp_path: Path) -> None:
    # verify also checks that ExecStart= is executable: point it at this venv's appliance.
    assert SYSTEMD_ANALYZE is not None
    unit = read_unit()
    assert unit.one("ExecStart").split()[0] == "/opt/jobroutr-gateway/venv/bin/appliance"
    copy = tmp_path / UNIT.name
    copy.write_text(
        UNIT.read_text(encoding="utf-8").replace(
            "/opt/jobroutr-gateway/venv/bin/appliance", str(APPLIANCE)
        ),
        encoding="utf-8",
    )
    result = run_tool(SYSTEMD_ANALYZE, "verify", str(copy))
    # An unknown directive or a bad value is only a warning (exit 0): none is allowed.
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.skipif(SYSTEMD_SYSUSERS is None, reason="systemd-sysusers is not installed here")
def test_the_sysusers_snippet_creates_the_operators_group(tmp_path: Path) -> None:
    assert SYSTEMD_SYSUSERS is not None
    (tmp_path / "etc").mkdir()
    result = run_tool(SYSTEMD_SYSUSERS, f"--root={tmp_path}", str(SYSUSERS))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") <= 1, result.stderr  # "Creating group ...", nothing else
    groups = [line.split(":")[0] for line in (tmp_path / "etc" / "group").read_text().split()]
    assert groups == [read_unit().one("Group")]


# --- the unit agrees with the code and the guide --------------------------------------------------


def test_the_unit_agrees_with_the_code() -> None:
    unit = read_unit()
    env = unit.environment()
    name = "jobroutr-gateway"
    assert unit.one("Type") == "exec"  # the service does not speak sd_notify
    assert unit.one("ExecStart").split()[1:] == ["serve"]
    assert env[CONFIG_ENV] == f"/etc/{name}/appliance.toml"
    assert unit.flag("DynamicUser")
    assert unit.one("User") == unit.one("StateDirectory") == unit.one("RuntimeDirectory") == name
    # The secret arrives as a credential whose name is the (relative) secret file setting.
    credential, _, source = unit.one("LoadCredential").partition(":")
    assert env[env_name("qbo_client_secret_file")] == credential
    assert source == f"/etc/{name}/{credential}"
    # The admin socket is chowned to APPLIANCE_ADMIN_GROUP. Under PrivateUsers= only the unit's
    # own user and group are mapped, so that group must be Group=, not a supplementary group.
    assert env[env_name("admin_group")] == unit.one("Group")
    assert not unit.all("SupplementaryGroups")
    assert unit.flag("PrivateUsers")
    # Operators reach the socket through the runtime directory as its group, never as others.
    runtime_mode = unit.mode("RuntimeDirectoryMode")
    assert runtime_mode & 0o010, oct(runtime_mode)
    assert not runtime_mode & 0o007, oct(runtime_mode)
    assert unit.mode("StateDirectoryMode") == 0o700
    assert unit.mode("UMask") == 0o077
    assert env[env_name("log_format")] == "json"
    # SIGTERM drains (up to GRACEFUL_SECONDS per listener); a bad setting is not restarted.
    assert unit.one("KillSignal") == "SIGTERM"
    assert unit.seconds("TimeoutStopSec") >= 2 * GRACEFUL_SECONDS
    assert unit.one("Restart") == "on-failure"
    assert str(EXIT_CONFIG) in unit.one("RestartPreventExitStatus").split()
    # The system call filter (~@resources) keeps the service from raising its own open files
    # limit, so the unit gives one with room for the public listener's cap and the rest.
    max_connections = Settings.model_fields["http_max_connections"].default
    assert int(unit.one("LimitNOFILE")) >= max_connections + RESERVED_DESCRIPTORS
    # It must reach Intuit: no IP allow list, and the families a TCP client and server need.
    assert not unit.all("IPAddressDeny")
    assert not unit.all("IPAddressAllow")
    assert set(unit.one("RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # The sysusers.d snippet creates the same group.
    lines = [ln.split() for ln in SYSUSERS.read_text().splitlines() if ln and ln[0] != "#"]
    assert lines == [["g", unit.one("Group"), "-"]]


# Directives the guide names that the unit deliberately does not set (it says why).
NOT_IN_UNIT = {"SupplementaryGroups", "IPAddressDeny", "IPAddressAllow", "LoadCredentialEncrypted"}


def test_the_install_guide_names_only_commands_settings_and_directives_that_exist(
    tmp_path: Path,
) -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", guide, flags=re.DOTALL))
    code += "\n" + "\n".join(re.findall(r"`([^`\n]+)`", guide))
    named = set(re.findall(r"\bappliance (?:--config \S+ )?([a-z][a-z-]+)", code))
    assert {"init", "serve", "status", "tui", "connect", "migrate"} <= named, named
    unknown = named - set(main.commands)
    assert not unknown, f"the guide names commands that do not exist: {sorted(unknown)}"
    settings = {env_name(f) for f in Settings.model_fields} | {CONFIG_ENV}
    variables = set(re.findall(r"\bAPPLIANCE_[A-Z_]+\b", guide))
    assert not variables - settings, f"not settings: {sorted(variables - settings)}"
    directives = {k for _, k, _ in read_unit().entries}
    mentioned = set(re.findall(r"`(?:-p )?([A-Z][A-Za-z]+)=", guide))
    assert not mentioned - directives - NOT_IN_UNIT, sorted(mentioned - directives - NOT_IN_UNIT)
    # The appliance.toml of the guide loads as the service loads it, and agrees with the unit.
    unit = read_unit()
    blocks = re.findall(r"```toml\n(.*?)```", guide, flags=re.DOTALL)
    assert len(blocks) == 1
    config = tmp_path / "appliance.toml"
    config.write_text(blocks[0], encoding="utf-8")
    loaded = load_settings(config)
    assert loaded.qbo_environment == "production"
    assert loaded.public_url.startswith("https://")
    assert str(loaded.qbo_client_secret_file) == unit.one("LoadCredential").partition(":")[0]
    assert loaded.admin_group == unit.one("Group")
    assert str(loaded.admin_socket_path) == f"/run/{unit.one('RuntimeDirectory')}/admin.sock"
    assert str(loaded.state_dir) == f"/var/lib/{unit.one('StateDirectory')}"


def test_a_relative_secret_file_is_read_from_the_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = _credentials_dir(tmp_path / "credentials", {"qbo-client-secret": "s3cr3t\n"})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qbo-client-secret").write_text("the working directory's, not the credential\n")
    (tmp_path / "qbo-client-secret").chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = Settings(qbo_client_secret_file=Path("qbo-client-secret"))
    assert settings.qbo_client_secret() == "s3cr3t"
    missing = Settings(qbo_client_secret_file=Path("no-such-credential"))
    with pytest.raises(SettingsError, match="cannot be read"):
        missing.qbo_client_secret()


def _credentials_dir(path: Path, files: dict[str, str]) -> Path:
    """As systemd leaves $CREDENTIALS_DIRECTORY: files 0400 in a directory 0500."""
    path.mkdir()
    for name, value in files.items():
        (path / name).write_text(value, encoding="utf-8")
        (path / name).chmod(0o400)
    path.chmod(0o500)
    return path


# --- the service, run with what the unit gives it -------------------------------------------------


def _sandbox_exec(spec_json: str, argv: list[str]) -> None:  # noqa: PLR0912
    """Apply a unit's sandbox to this process, then exec ``argv``: a standalone program.

    Runs as ``python -c <this function's source>`` (so it needs nothing but the standard library
    and libseccomp), in the order systemd applies the same settings: mounts, groups, capabilities,
    no_new_privs, seccomp, exec. Exits 75 with a sentence when this machine cannot apply a step.
    """
    import ctypes  # noqa: PLC0415
    import ctypes.util  # noqa: PLC0415
    import errno  # noqa: PLC0415
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    spec = json.loads(spec_json)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p
    ]  # fmt: skip
    libc.syscall.restype = ctypes.c_long

    def cannot(what: str) -> None:
        print(f"sandbox: cannot {what} here", file=sys.stderr)
        sys.exit(75)

    def ok(result: int, what: str) -> None:
        if result < 0:
            cannot(f"{what} ({os.strerror(ctypes.get_errno())})")

    os.chdir("/")
    os.umask(spec["umask"])
    if spec.get("nofile") is not None:  # LimitNOFILE=, soft and hard
        import resource  # noqa: PLC0415

        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (spec["nofile"], spec["nofile"]))
        except (OSError, ValueError):  # not root: no higher than this process's hard limit
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(spec["nofile"], hard), hard))
    writable = spec.get("writable")
    if writable is not None:  # ProtectSystem=strict, with the unit's own directories writable
        ok(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
        ms_bind, ms_rec, ms_private = 0x1000, 0x4000, 1 << 18
        ok(libc.mount(None, b"/", None, ms_rec | ms_private, None), "make / private")
        if spec.get("proc_options"):  # ProtectProc= and ProcSubset=: a /proc of its own
            options = spec["proc_options"].encode()
            ok(libc.mount(b"proc", b"/proc", b"proc", 0x2 | 0x4 | 0x8, options), "mount /proc")
        for path in writable:
            ok(libc.mount(path.encode(), path.encode(), None, ms_bind | ms_rec, None), "bind")

        class MountAttr(ctypes.Structure):
            _fields_ = [
                ("attr_set", ctypes.c_uint64),
                ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64),
            ]

        def read_only(path: str, on: bool) -> None:
            attr = MountAttr(1 if on else 0, 0 if on else 1, 0, 0)  # MOUNT_ATTR_RDONLY
            size = ctypes.sizeof(attr)  # mount_setattr(AT_FDCWD, path, AT_RECURSIVE, ...)
            ok(libc.syscall(442, -100, path.encode(), 0x8000, ctypes.byref(attr), size), path)

        read_only("/", True)
        for path in writable:
            read_only(path, False)
    if spec.get("gid") is not None:  # Group= (the primary group) and SupplementaryGroups=
        os.setgroups(spec["groups"])
        os.setgid(spec["gid"])
    if spec.get("drop_capabilities"):  # CapabilityBoundingSet= and AmbientCapabilities= empty
        for cap in range(64):
            if libc.prctl(24, cap, 0, 0, 0) < 0:  # PR_CAPBSET_DROP, until EINVAL past the last
                break
        ok(libc.prctl(47, 4, 0, 0, 0), "clear ambient capabilities")
    if spec.get("no_new_privileges"):
        ok(libc.prctl(38, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    if spec.get("drop_capabilities"):
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this pid
        ok(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")
    if spec.get("seccomp"):
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            cannot("load libseccomp")

        class Cmp(ctypes.Structure):
            _fields_ = [
                ("arg", ctypes.c_uint),
                ("op", ctypes.c_int),
                ("a", ctypes.c_uint64),
                ("b", ctypes.c_uint64),
            ]

        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(Cmp)
        ]  # fmt: skip
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        allow, kill, eq, gt, masked = 0x7FFF0000, 0x80000000, 4, 6, 7

        def refuse(number: int) -> int:
            return 0x00050000 | number  # SCMP_ACT_ERRNO

        def rule(ctx: int, action: int, syscall: str, *cmps: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(syscall.encode())
            if nr < 0:  # not a system call of this architecture
                return
            array = (Cmp * max(1, len(cmps)))(*(Cmp(*c) for c in cmps))
            result = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
            if result < 0:
                cannot(f"add a seccomp rule for {syscall} ({os.strerror(-result)})")

        # What systemd 252 adds as argument filters (errno, not kill).
        ctx = lib.seccomp_init(allow)
        families = spec.get("address_families")
        if families:  # RestrictAddressFamilies=: others get EAFNOSUPPORT
            for family in range(max(families)):
                if family not in families:
                    rule(ctx, refuse(errno.EAFNOSUPPORT), "socket", (0, eq, family, 0))
            rule(ctx, refuse(errno.EAFNOSUPPORT), "socket", (0, gt, max(families), 0))
        if spec.get("memory_deny_write_execute"):
            wx, x = 0x2 | 0x4, 0x4  # PROT_WRITE | PROT_EXEC
            rule(ctx, refuse(errno.EPERM), "mmap", (2, masked, wx, wx))
            rule(ctx, refuse(errno.EPERM), "mprotect", (2, masked, x, x))
            rule(ctx, refuse(errno.EPERM), "pkey_mprotect", (2, masked, x, x))
            rule(ctx, refuse(errno.EPERM), "shmat", (2, masked, 0o100000, 0o100000))
        if spec.get("restrict_namespaces"):
            rule(ctx, refuse(errno.EPERM), "unshare")
            rule(ctx, refuse(errno.EPERM), "setns")
            # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
            for flag in (0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000):
                rule(ctx, refuse(errno.EPERM), "clone", (0, masked, flag, flag))
            rule(ctx, refuse(errno.EPERM), "clone", (0, masked, 1 << 30, 1 << 30))
            rule(ctx, refuse(errno.ENOSYS), "clone3")  # so that glibc falls back to clone()
        ok(lib.seccomp_load(ctx), "load the argument filters")
        # SystemCallFilter= and SystemCallArchitectures=native: anything else kills.
        ctx = lib.seccomp_init(kill)
        for syscall in spec["syscalls"]:
            rule(ctx, allow, syscall)
        ok(lib.seccomp_load(ctx), "load the system call filter")
    os.execv(argv[0], argv)  # noqa: S606 - becomes the service, as systemd's exec does


LAUNCHER = (
    "import sys\n"
    + textwrap.dedent(inspect.getsource(_sandbox_exec))
    + "\n_sandbox_exec(sys.argv[1], sys.argv[2:])\n"
)


def syscall_groups() -> dict[str, list[str]]:
    """The system call sets as this machine's systemd defines them."""
    assert SYSTEMD_ANALYZE is not None
    result = run_tool(SYSTEMD_ANALYZE, "syscall-filter")
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.stdout.splitlines():
        if re.fullmatch(r"@[\w-]+", line):
            current = groups.setdefault(line, [])
        elif current is not None and re.fullmatch(r" {4}[@\w-]+", line):
            current.append(line.strip())
        elif line and not line.startswith(" "):
            current = None
    assert "@system-service" in groups, result.stderr
    assert "@default" in groups, result.stderr
    return groups


def syscall_allow_list(unit: Unit, groups: dict[str, list[str]]) -> list[str]:
    """SystemCallFilter= as systemd reads it: the first line allows (plus @default), then each
    line adds, or with ~ removes, from that set."""

    def expand(name: str) -> set[str]:
        name = name.split(":", maxsplit=1)[0]
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(member) for member in groups[name]))

    allowed: set[str] | None = None
    for line in unit.all("SystemCallFilter"):
        deny = line.startswith("~")
        names = set().union(*(expand(n) for n in line.lstrip("~").split()))
        if allowed is None:
            assert not deny, "the unit's first SystemCallFilter= must be an allow list"
            allowed = expand("@default") | names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    assert allowed, "the unit has no SystemCallFilter="
    return sorted(allowed)


def sandbox_spec(unit: Unit, gid: int, writable: list[Path]) -> dict[str, Any]:
    """The unit's directives as the launcher applies them (each one asserted to be there)."""
    assert unit.one("ProtectSystem") == "strict"
    assert unit.one("ProtectProc") == "invisible"
    assert unit.one("ProcSubset") == "pid"
    assert unit.one("CapabilityBoundingSet") == ""
    assert unit.one("AmbientCapabilities") == ""
    assert unit.one("SystemCallArchitectures") == "native"
    for directive in ("NoNewPrivileges", "MemoryDenyWriteExecute", "RestrictNamespaces"):
        assert unit.flag(directive), directive
    return {
        "umask": unit.mode("UMask"),
        "nofile": int(unit.one("LimitNOFILE")),
        "writable": [str(path) for path in writable],
        "proc_options": "hidepid=invisible,subset=pid",
        "gid": gid,
        "groups": [],
        "drop_capabilities": True,
        "no_new_privileges": True,
        "seccomp": True,
        "syscalls": syscall_allow_list(unit, syscall_groups()),
        "address_families": sorted(
            int(getattr(socket, name)) for name in unit.one("RestrictAddressFamilies").split()
        ),
        "memory_deny_write_execute": True,
        "restrict_namespaces": True,
    }


def launch(spec: dict[str, Any], argv: list[str]) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, json.dumps(spec), *argv]


def sandbox_unavailable() -> str | None:
    """Why this machine cannot apply the unit's sandbox, or None when it can."""
    if os.geteuid() != 0:
        return "only root can set up the unit's sandbox (mount namespace, groups, capabilities)"
    if SYSTEMD_ANALYZE is None:
        return "systemd-analyze is not installed, so the unit's system call sets are unknown"
    with tempfile.TemporaryDirectory() as scratch:
        spec = sandbox_spec(read_unit(), os.getgid(), [Path(scratch)])
        probe = subprocess.run(
            launch(spec, [sys.executable, "-c", "pass"]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if probe.returncode == 75:
        return probe.stderr.strip()
    assert probe.returncode == 0, probe.stderr
    return None


def spare_group() -> grp.struct_group:
    """A group to stand in for jobroutr-ops: not root's, not nobody's, without members."""
    for name in ("users", "staff", "operator", "src"):
        try:
            group = grp.getgrnam(name)
        except KeyError:
            continue
        if group.gr_gid not in (0, 65534) and not group.gr_mem:
            return group
    pytest.skip("no spare group on this machine to stand in for the operators' group")


@dataclass
class Host:
    """What systemd would have set up for the unit, in a short temporary directory."""

    unit: Unit
    base: Path
    config: Path
    state: Path
    runtime: Path
    credentials: Path
    group: grp.struct_group
    secret: str
    emulator_url: str
    http_url: str

    def service_env(self) -> dict[str, str]:
        env = self.unit.environment()
        env[CONFIG_ENV] = str(self.config)  # the unit names /etc/jobroutr-gateway/appliance.toml
        env[env_name("admin_group")] = self.group.gr_name  # the unit names jobroutr-ops
        env["STATE_DIRECTORY"] = str(self.state)
        env["RUNTIME_DIRECTORY"] = str(self.runtime)
        env["CREDENTIALS_DIRECTORY"] = str(self.credentials)
        return env

    def init_env(self) -> dict[str, str]:
        # As docs/install.md runs it: systemd-run with StateDirectory= and APPLIANCE_CONFIG only.
        return {CONFIG_ENV: str(self.config), "STATE_DIRECTORY": str(self.state)}

    def operator_env(self) -> dict[str, str]:
        # An operator has the config file (and so the socket's path), none of the unit's variables.
        return {CONFIG_ENV: str(self.config), env_name("admin_socket"): str(self.socket)}

    @property
    def socket(self) -> Path:
        return self.runtime / "admin.sock"


@pytest.fixture
def host(short_dir: Path) -> Iterator[Host]:
    unit = read_unit()
    credential = unit.one("LoadCredential").partition(":")[0]
    secret = "credential-canary-" + os.urandom(6).hex()
    http_port, emulator_port = free_port(), free_port()
    config = short_dir / "appliance.toml"
    config.write_text(
        f'[http]\nport = {http_port}\n\n[qbo]\nenvironment = "emulator"\n'
        f'emulator_url = "http://localhost:{emulator_port}"\n',  # resolved through NSS
        encoding="utf-8",
    )
    config.chmod(0o640)
    state, runtime = short_dir / "state", short_dir / "run"
    state.mkdir()
    state.chmod(unit.mode("StateDirectoryMode"))
    runtime.mkdir()
    runtime.chmod(unit.mode("RuntimeDirectoryMode"))
    yield Host(
        unit=unit,
        base=short_dir,
        config=config,
        state=state,
        runtime=runtime,
        credentials=_credentials_dir(short_dir / "credentials", {credential: secret + "\n"}),
        group=grp.getgrgid(os.getgid()),
        secret=secret,
        emulator_url=f"http://localhost:{emulator_port}",
        http_url=f"http://127.0.0.1:{http_port}",
    )
    (short_dir / "credentials").chmod(0o700)  # so that the fixture can remove it


def run_as_unit(
    spec: dict[str, Any], env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        launch(spec, [str(APPLIANCE), *args]),
        env=appliance_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def operator(*args: str, host: Host) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(APPLIANCE), *args],
        env=appliance_env(host.operator_env()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def token_request(host: Host, secret: str) -> httpx.Response:
    """Redeem a made-up code at the embedded emulator, as the appliance's registered app."""
    return httpx.post(
        host.emulator_url + "/oauth2/v1/tokens/bearer",
        auth=(EMULATOR_CLIENT_ID, secret),
        data={"grant_type": "authorization_code", "code": "made-up", "redirect_uri": "x"},
        timeout=10,
    )


def curl_status(host: Host, gid: int) -> subprocess.CompletedProcess[str]:
    """GET /v1/status on the admin socket as uid nobody with primary group ``gid``, no others."""
    curl = shutil.which("curl")
    assert curl is not None
    return subprocess.run(
        [curl, "-sS", "--max-time", "10", "--unix-socket", str(host.socket), "http://x/v1/status"],
        user=65534,
        group=gid,
        extra_groups=[],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("sandboxed", [False, True], ids=["environment", "sandbox"])
def test_the_service_runs_with_what_the_unit_gives_it(host: Host, sandboxed: bool) -> None:
    unit = host.unit
    if sandboxed:
        if reason := sandbox_unavailable():
            pytest.skip(reason)
        # Group=jobroutr-ops stands for a group of this machine; systemd would have given the
        # directories to the unit's user and group, and so does this test.
        host.group = spare_group()
        for path in (host.state, host.runtime, host.config):
            os.chown(path, -1, host.group.gr_gid)
        host.base.chmod(0o711)  # so that uid nobody can reach the runtime directory below it
        spec = sandbox_spec(unit, host.group.gr_gid, [host.state, host.runtime])
    else:
        spec = {"umask": unit.mode("UMask"), "nofile": int(unit.one("LimitNOFILE"))}

    init = run_as_unit(spec, host.init_env(), "init")
    assert init.returncode == 0, init.stderr
    assert "JobRoutr API key:        jra_" in init.stdout
    assert "JobRoutr webhook secret: whsec_" in init.stdout

    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - files, not pipes: never a full pipe
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(
        launch(spec, [str(APPLIANCE), "serve"]),
        env=appliance_env(host.service_env()),
        stdout=out,
        stderr=err,
        text=True,
    )
    try:
        wait_until(
            lambda: process.poll() is not None or answers(host.http_url + "/healthz"),
            what="the service to answer /healthz",
        )
        assert process.poll() is None, read_output(err) + read_output(out)

        # State: owner-only, in $STATE_DIRECTORY.
        assert stat.S_IMODE(host.state.stat().st_mode) == unit.mode("StateDirectoryMode")
        files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in host.state.iterdir()}
        assert {"appliance.db", "keyring.json"} <= set(files), files
        assert all(mode == 0o600 for mode in files.values()), {k: oct(v) for k, v in files.items()}

        # The admin socket: in $RUNTIME_DIRECTORY, 0660, the admin group's.
        info = host.socket.stat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o660
        assert info.st_gid == host.group.gr_gid
        assert stat.S_IMODE(host.runtime.stat().st_mode) == unit.mode("RuntimeDirectoryMode")

        # Operators: the config file and the socket, nothing of the unit's environment.
        status = operator("status", "--json", host=host)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["store"]["schema_current"] is True
        assert report["store"]["location"] == str(host.state / "appliance.db")
        assert report["webhook_secret_set"] is True

        # Connecting: the service calls the QBO emulator out and seals the tokens it gets.
        printed = operator("connect", host=host)
        assert printed.returncode == 0, printed.stderr
        link = re.search(r"(http://\S+/connect/oauth2\?\S+)", printed.stdout)
        assert link, printed.stdout
        finished = operator("connect", "--redirect-url", approve(link[1], REALM), host=host)
        assert finished.returncode == 0, finished.stderr
        assert "Your QuickBooks Online account is connected." in finished.stdout
        rotated = operator("rotate-key", host=host)  # the service rewrites keyring.json
        assert rotated.returncode == 0, rotated.stderr
        assert "under key version 2" in rotated.stdout
        assert not rotated.stdout.startswith("Re-sealed 0 "), rotated.stdout
        connection = json.loads(operator("status", "--json", host=host).stdout)["connection"]
        assert connection["state"] == "connected", connection
        assert stat.S_IMODE((host.state / "keyring.json").stat().st_mode) == 0o600

        # The client secret came from the credential: the embedded emulator's app has it.
        assert token_request(host, host.secret).json() == {
            "error": "invalid_grant",
            "error_description": "Token invalid",
        }
        assert token_request(host, EMULATOR_CLIENT_SECRET).status_code == 401

        if sandboxed:
            # The service really runs confined: as the kernel reports it.
            confined = _proc_status(process.pid)
            assert confined["Seccomp"] == "2", confined  # filter mode
            assert confined["Seccomp_filters"] == "2", confined
            assert confined["NoNewPrivs"] == "1", confined
            assert int(confined["CapEff"], 16) == int(confined["CapBnd"], 16) == 0, confined
            assert confined["Gid"].split()[0] == str(host.group.gr_gid), confined
            assert os.readlink(f"/proc/{process.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        if sandboxed and shutil.which("curl"):  # without curl, no operator to try it with
            member = curl_status(host, host.group.gr_gid)
            assert member.returncode == 0, member.stderr
            assert json.loads(member.stdout)["store"]["schema_current"] is True
            stranger = curl_status(host, 65534)
            assert stranger.returncode != 0
            assert "Permission denied" in stranger.stderr or "Couldn't connect" in stranger.stderr

        # KillSignal=SIGTERM drains and exits 0 within TimeoutStopSec=.
        started = time.monotonic()
        process.send_signal(getattr(signal, unit.one("KillSignal")))
        code = process.wait(timeout=unit.seconds("TimeoutStopSec"))
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    logs, errors = read_output(out), read_output(err)
    assert code == 0, f"exit {code} after SIGTERM:\n{errors}\n{logs}"
    assert took < unit.seconds("TimeoutStopSec")
    assert not host.socket.exists()
    events = [json.loads(line)["event"] for line in logs.splitlines() if line.strip()]
    assert events[-1] == "service.stopped", events
    assert host.secret not in logs + errors
    print(f"stopped {took:.2f}s after SIGTERM")


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def read_output(handle: Any) -> str:
    handle.seek(0)
    return str(handle.read())


# What the launcher itself is trusted to do: each restriction, seen failing from inside.
PROBE = r"""
import ctypes, errno, json, mmap, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
results = {}
def unshare():
    if libc.unshare(0x20000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare")
def attempt(name, call):
    try:
        call()
        results[name] = "allowed"
    except OSError as exc:
        results[name] = errno.errorcode.get(exc.errno, str(exc.errno))
attempt("write /etc", lambda: open("/etc/jrg-sandbox-probe", "w"))
attempt("write writable dir", lambda: open(os.path.join(sys.argv[1], "probe"), "w").close())
attempt("netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("inet socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
attempt("W+X memory", lambda: mmap.mmap(-1, 4096, prot=7))
attempt("unshare", unshare)
attempt("/proc/sys", lambda: os.listdir("/proc/sys"))
results["umask"] = oct(os.umask(0))
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
results["CapBnd"] = status["CapBnd"].strip()
print(json.dumps(results), flush=True)
os.setuid(0)  # in @privileged: the filter kills the process here
print("setuid was allowed", flush=True)
"""


@pytest.mark.slow
def test_the_sandbox_launcher_applies_each_restriction(short_dir: Path) -> None:
    if reason := sandbox_unavailable():
        pytest.skip(reason)
    writable = short_dir / "state"
    writable.mkdir()
    spec = sandbox_spec(read_unit(), os.getgid(), [writable])
    result = subprocess.run(
        launch(spec, [sys.executable, "-c", PROBE, str(writable)]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -signal.SIGSYS, result.stdout + result.stderr
    assert "setuid was allowed" not in result.stdout
    assert json.loads(result.stdout) == {
        "write /etc": "EROFS",
        "write writable dir": "allowed",
        "netlink socket": "EAFNOSUPPORT",
        "inet socket": "allowed",
        "W+X memory": "EPERM",
        "unshare": "EPERM",
        "/proc/sys": "ENOENT",
        "umask": "0o77",
        "CapBnd": "0000000000000000",
    }
