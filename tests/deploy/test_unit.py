"""The systemd unit, run by a real systemd: a Debian 12 machine booted under systemd-nspawn.

The machine (tests/harness/machine.py, a copy of the cached debootstrapped root filesystem) gets
the appliance as docs/install.md installs it: the operators' group, this source tree in
/opt/jobroutr-gateway/src installed into its own venv by pip (from PyPI) with constraints.txt, the
wrapper, /etc/jobroutr-gateway/appliance.toml and the client secret, the unit from systemd/. After
it boots: `appliance init` as the dynamic user through systemd-run (--pipe, where the guide says
--pty: there is no terminal here), `systemctl enable --now`. Then: the unit is active and /readyz
answers 200; an operator in jobroutr-ops runs `appliance status` over the socket and one outside
it is told "permission denied"; the sandbox is visible in /proc (no capabilities, NoNewPrivs,
seccomp, a private user namespace); SIGKILL brings a restart 5 s later; `systemctl stop` ends it
cleanly; a configuration error (exit 78) is not restarted.

Cost: the first run builds the root filesystem (about 2 minutes) and fills CACHE/pip; each run
copies the root filesystem, installs (about 1 minute with the pip cache) and boots (seconds).
Skipped, with the reason, where no machine can boot (not root, no systemd-nspawn, no debootstrap).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import debian
from tests.harness.machine import Machine, NoMachine, booted, unavailable
from tests.harness.processes import ROOT

pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(1800)]

UNIT = "jobroutr-gateway"
SRC = "opt/jobroutr-gateway/src"
SOURCES = (
    "appliance",
    "config",
    "docs",
    "systemd",
    "pyproject.toml",
    "constraints.txt",
    "README.md",
)
CONFIG = """\
state_dir = "/var/lib/jobroutr-gateway"
public_url = "https://qbo-gateway.example.com"

[http]
host = "127.0.0.1"
port = 8780

[admin]
socket = "/run/jobroutr-gateway/admin.sock"
group = "jobroutr-ops"

[qbo]
environment = "production"
client_id = "ABcdEf0123456789ABcdEf0123456789ABcdEf0123456789ab"
client_secret_file = "qbo-client-secret"
"""
# docs/install.md, steps 2 to 6, as one script (the machine's CA bundle for pip first: the way
# out of these machines passes a proxy with its own certificate).
INSTALL = f"""
umask 022
printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' > /etc/pip.conf
groupadd --system jobroutr-ops
useradd --create-home --shell /bin/sh alice
usermod -aG jobroutr-ops alice
useradd --create-home --shell /bin/sh mallory
python3 -m venv /opt/jobroutr-gateway/venv
/opt/jobroutr-gateway/venv/bin/pip install --quiet --upgrade pip
/opt/jobroutr-gateway/venv/bin/pip install --quiet \\
    -c /opt/jobroutr-gateway/src/constraints.txt /opt/jobroutr-gateway/src
/opt/jobroutr-gateway/venv/bin/appliance --version
cat > /usr/local/bin/appliance <<'EOF'
#!/bin/sh
export APPLIANCE_CONFIG=/etc/jobroutr-gateway/appliance.toml
exec /opt/jobroutr-gateway/venv/bin/appliance "$@"
EOF
chmod 755 /usr/local/bin/appliance
install -d -m 0750 -o root -g jobroutr-ops /etc/jobroutr-gateway
install -m 0640 -o root -g jobroutr-ops /dev/null /etc/jobroutr-gateway/appliance.toml
cat > /etc/jobroutr-gateway/appliance.toml <<'EOF'
{CONFIG}EOF
install -m 0600 -o root -g root /dev/null /etc/jobroutr-gateway/qbo-client-secret
echo not-a-real-client-secret > /etc/jobroutr-gateway/qbo-client-secret
install -m 0644 /opt/jobroutr-gateway/src/systemd/jobroutr-gateway.service /etc/systemd/system/
"""
# docs/install.md, step 8.
INIT = (
    "systemd-run", "--pipe", "--wait", "--collect", "--quiet",
    "-p", "DynamicUser=yes", "-p", "User=jobroutr-gateway", "-p", "Group=jobroutr-ops",
    "-p", "StateDirectory=jobroutr-gateway", "-p", "StateDirectoryMode=0700", "-p", "UMask=0077",
    "-E", "APPLIANCE_CONFIG=/etc/jobroutr-gateway/appliance.toml",
    "/opt/jobroutr-gateway/venv/bin/appliance", "init",
)  # fmt: skip
READYZ = (
    "import urllib.request as r, urllib.error as e\n"
    "try: print(r.urlopen('http://127.0.0.1:8780/readyz', timeout=3).status)\n"
    "except e.HTTPError as x: print(x.code)\n"
    "except OSError: print(0)\n"
)


def installed_machine(workdir: Path) -> Machine:
    started = time.monotonic()
    root = debian.copy_of("systemd", workdir / "root")
    for name in SOURCES:
        source, target = ROOT / name, root / SRC / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    machine = Machine(root)
    done = machine.prepare(INSTALL)
    assert done.returncode == 0, f"install: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    print(f"machine: copied and installed in {time.monotonic() - started:.0f} s")
    return machine


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    why = unavailable()
    if why:
        pytest.skip(f"no machine can boot the unit here: {why}")
    workdir = Path(tmp_path_factory.mktemp("nspawn"))
    try:
        prepared = installed_machine(workdir)
        with booted(prepared, workdir / "console.log") as running:
            yield running
    except (NoMachine, debian.Unavailable) as exc:
        pytest.skip(f"no machine can boot the unit here: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def ready(machine: Machine) -> bool:
    return machine.run("python3", "-c", READYZ, check=False).stdout.strip() == "200"


def active(machine: Machine) -> dict[str, str]:
    """The unit's state once it is active again, with its (new) main process."""
    machine.wait_for(
        f"{UNIT} to be active", lambda: machine.unit(UNIT, "ActiveState")["ActiveState"] == "active"
    )
    return machine.unit(UNIT, "MainPID", "NRestarts", "ExecMainStartTimestampMonotonic")


@pytest.fixture(scope="module")
def started(machine: Machine) -> Machine:
    init = machine.run(*INIT, timeout=120)
    assert "JobRoutr API key:" in init.stdout, init.stdout + init.stderr
    machine.run("systemctl", "enable", "--now", UNIT)
    active(machine)
    machine.wait_for("/readyz to answer 200", lambda: ready(machine))
    return machine


def test_the_unit_starts_and_is_ready(started: Machine) -> None:
    state = started.unit(UNIT, "ActiveState", "SubState", "User", "Group", "NRestarts")
    assert state == {
        "ActiveState": "active",
        "SubState": "running",
        "User": "jobroutr-gateway",
        "Group": "jobroutr-ops",
        "NRestarts": "0",
    }
    assert ready(started)
    journal = started.run("journalctl", "-u", UNIT, "--no-pager", "-o", "cat").stdout
    assert "service.started" in journal
    assert "jra_" not in journal, "init's secrets were shown on the terminal, not logged"


def test_an_operator_in_the_group_uses_the_console_socket(started: Machine) -> None:
    status = started.run("appliance", "status", user="alice")
    assert "Traceback" not in status.stderr
    assert status.stdout.strip(), status.stderr


def test_a_user_outside_the_group_is_told_permission_denied(started: Machine) -> None:
    # Through the wrapper: the configuration file is the operators' group's only.
    refused = started.run("appliance", "status", user="mallory", check=False)
    assert refused.returncode == 78
    assert "cannot be read (Permission denied)" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    # Given the socket's path instead: the socket's directory is the operators' group's only.
    refused = started.run(
        "env", "APPLIANCE_ADMIN_SOCKET=/run/jobroutr-gateway/admin.sock",
        "/opt/jobroutr-gateway/venv/bin/appliance", "status", user="mallory", check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "permission denied" in refused.stderr.lower(), refused.stderr
    assert "not running" not in refused.stderr, refused.stderr
    assert "operators' group" in refused.stderr, "the hint says which group to join"
    assert "Traceback" not in refused.stderr


def test_the_sandbox_is_visible_in_proc(started: Machine) -> None:
    pid = started.unit(UNIT, "MainPID")["MainPID"]
    status = started.run("cat", f"/proc/{pid}/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["CapBnd"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2", "a system call filter"
    assert fields["Uid"].split()[0] != "0"
    uid_map = started.run("cat", f"/proc/{pid}/uid_map").stdout.split()
    assert uid_map != ["0", "0", "4294967295"], "PrivateUsers=: a user namespace of its own"
    mounts = started.run("cat", f"/proc/{pid}/mountinfo").stdout
    assert " /usr ro," in mounts or " / ro," in mounts, "ProtectSystem=strict"


def test_sigkill_is_restarted_5_seconds_later(started: Machine) -> None:
    before = active(started)
    started.run("systemctl", "kill", "--signal=SIGKILL", UNIT)
    started.wait_for(
        "the restart to be scheduled",
        lambda: started.unit(UNIT, "SubState")["SubState"] == "auto-restart",
    )
    killed = started.unit(UNIT, "ExecMainExitTimestampMonotonic", "ExecMainCode", "ExecMainStatus")
    assert (killed["ExecMainCode"], killed["ExecMainStatus"]) == ("2", "9"), "CLD_KILLED by 9"
    after = active(started)
    assert after["MainPID"] != before["MainPID"]
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    waited = (
        int(after["ExecMainStartTimestampMonotonic"])
        - int(killed["ExecMainExitTimestampMonotonic"])
    ) / 1e6
    print(f"restarted {waited:.1f} s after the SIGKILL")
    assert waited >= 4.9, "RestartSec=5s"
    started.wait_for("/readyz after the restart", lambda: ready(started))


def test_stop_is_clean(started: Machine) -> None:
    active(started)
    started.run("systemctl", "stop", UNIT, timeout=60)
    state = started.unit(UNIT, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    assert state == {
        "ActiveState": "inactive",
        "Result": "success",
        "ExecMainCode": "1",  # CLD_EXITED: it exited by itself, SIGTERM asked
        "ExecMainStatus": "0",
    }
    journal = started.run("journalctl", "-u", UNIT, "--no-pager", "-n", "5", "-o", "cat").stdout
    assert "service.stopped" in journal, "it finished its requests and closed the store"


def test_a_configuration_error_exit_78_is_not_restarted(started: Machine) -> None:
    started.shell(
        "sed -i 's/^port = 8780$/port = \"not-a-port\"/' /etc/jobroutr-gateway/appliance.toml"
    )
    try:
        started.run("systemctl", "start", UNIT, check=False)
        started.wait_for(
            f"{UNIT} to fail", lambda: started.unit(UNIT, "ActiveState")["ActiveState"] == "failed"
        )
        time.sleep(7)  # RestartSec=5s has passed: a restart would have begun
        state = started.unit(UNIT, "ActiveState", "ExecMainStatus", "NRestarts", "Result")
        assert state["ActiveState"] == "failed"
        assert state["ExecMainStatus"] == "78"
        assert state["Result"] == "exit-code"
        assert state["NRestarts"] == "0"
    finally:
        started.shell(
            "sed -i 's/^port = \"not-a-port\"$/port = 8780/' /etc/jobroutr-gateway/appliance.toml"
        )
