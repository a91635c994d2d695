"""The container image (Dockerfile, docker/entrypoint.sh, .dockerignore), checked without Docker.

These need no Docker engine; tests/deploy/test_container.py builds and runs the image with a real
one (marked `deploy`). What these tests check:

- The Dockerfile, read line by line: the final stage runs as a fixed numeric non-root user, keeps
  APPLIANCE_STATE_DIR in a VOLUME, sets only real settings (and valid ones: they are loaded as the
  appliance loads them), asks /healthz on the port it EXPOSEs, and gets its code only as a
  virtualenv from the build stage, which installs the release with `-c constraints.txt` and
  without the dev extras.
- The .dockerignore rules, with Docker's matching, against the COPY lines and the package.
- The image's own run-time steps on this machine: the entrypoint script with this venv's
  `appliance` on PATH and the image's environment, except for the paths of this test's temporary
  state directory and admin socket, 127.0.0.1 instead of 0.0.0.0 (this machine listens on
  loopback only) and free ports. It refuses a volume that was never initialised (and leaves a
  wrong setting to the appliance's own sentence), runs `appliance init`, then exec's `appliance
  serve`; the HEALTHCHECK command, taken from the Dockerfile, passes (an http_proxy in the
  environment included) and fails before the start and after the stop on SIGTERM; an operator
  command finds the admin socket through the same ENV, as `docker exec` would; the logs are JSON
  lines without the secrets that `init` showed.

Not checked here (test_container.py does): that the image builds, that its user can write the
state volume and the socket directory, and Docker's own behaviour.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from appliance.config import Settings, env_name, load_settings
from tests.harness.processes import (
    APPLIANCE,
    ROOT,
    answers,
    appliance_env,
    free_port,
    run_appliance,
    wait_until,
)

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
VENV = "/opt/venv"
EX_CONFIG = 78


# --- reading the Dockerfile -----------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    def all(self, keyword: str) -> list[str]:
        return [self.expand(args) for kw, args in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword} in stage {self.name}, found {found}"
        return found[0]

    def expand(self, text: str) -> str:
        """Substitute this stage's build arguments (their defaults), as the builder does."""
        for name, value in self.args.items():
            text = text.replace("${" + name + "}", value)
            text = re.sub(rf"\${name}\b", value, text)
        return text

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for token in shlex.split(args):
                name, sep, value = token.partition("=")
                assert sep, f"ENV {args!r}: write ENV NAME=value"
                values[name] = value
        return values


def logical_lines(text: str) -> list[str]:
    """Instructions with their continuation lines joined; comments and blank lines dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return lines


def parse_dockerfile(text: str) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            stage = Stage(base=base.strip(), name=name.strip() or str(len(stages)))
            stage.base = Stage(base="", name="", args=global_args).expand(stage.base)
            stages.append(stage)
        elif keyword == "ARG":
            name, _, default = args.partition("=")
            if not stages:
                global_args[name] = default
            else:
                stages[-1].args[name] = default or global_args.get(name, "")
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"expected the exec (JSON) form, got {args!r}"
    return [str(item) for item in value]


def copy_parts(args: str) -> tuple[dict[str, str], list[str], str]:
    """COPY's --flags, sources and destination."""
    tokens = shlex.split(args)
    flags = {}
    while tokens and tokens[0].startswith("--"):
        name, _, value = tokens.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, tokens[:-1], tokens[-1]


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def build(stages: list[Stage]) -> Stage:
    (stage,) = [s for s in stages[:-1] if any(VENV in a for a in s.all("RUN"))]
    return stage


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def healthcheck(runtime: Stage) -> list[str]:
    options, _, command = runtime.one("HEALTHCHECK").partition("CMD ")
    assert all(option.startswith("--") for option in options.split()), options
    return exec_form(command)


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


# --- the Dockerfile ------------------------------------------------------------------------------


def test_the_final_stage_runs_as_a_fixed_numeric_non_root_user(runtime: Stage) -> None:
    user = runtime.one("USER")
    assert re.fullmatch(r"\d+:\d+", user), f"USER {user}: name the uid and gid by number"
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0
    assert gid != 0
    runs = "\n".join(runtime.all("RUN"))
    # The user it runs as exists in the image, with the same numbers (getpass, `ls -l` work).
    assert re.search(rf'useradd [^\n]*--uid "?{uid}"?\s', runs), runs
    assert re.search(rf'groupadd [^\n]*--gid "?{gid}"?\s', runs), runs


def test_the_state_directory_is_a_volume_the_user_owns(runtime: Stage) -> None:
    env = runtime.env()
    state = env["APPLIANCE_STATE_DIR"]
    volume = runtime.one("VOLUME")
    volumes = exec_form(volume) if volume.startswith("[") else volume.split()
    assert volumes == [state]
    # Created in the image 0700 and owned by the user: Docker copies that onto a new named volume,
    # and `appliance` refuses a state directory that belongs to another user.
    runs = "\n".join(runtime.all("RUN"))
    (useradd,) = [cmd for run in runtime.all("RUN") for cmd in run.split("&&") if "useradd" in cmd]
    name = useradd.split()[-1]
    assert re.search(rf"install -d -m 0700 -o {name} -g \S+ {re.escape(state)}(\s|$)", runs), runs
    # The admin socket is outside the volume, in a directory of the user's own, and found by
    # `docker exec CONTAINER appliance tui` through the same ENV.
    socket = Path(env["APPLIANCE_ADMIN_SOCKET"])
    assert not socket.is_relative_to(state)
    assert len(str(socket)) < 108, "a Unix socket path must be shorter than 108 bytes"
    pattern = rf"install -d -m 07[05]0 -o {name} -g \S+ {re.escape(str(socket.parent))}(\s|$)"
    assert re.search(pattern, runs), runs


def test_the_image_environment_is_valid_settings_for_a_container(
    runtime: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in runtime.env().items() if k.startswith("APPLIANCE_")}
    known = {env_name(name) for name in Settings.model_fields}
    assert set(env) <= known, f"not settings: {sorted(set(env) - known)}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.state_dir == Path("/var/lib/jobroutr-gateway")
    assert settings.admin_socket_path == Path("/run/jobroutr-gateway/admin.sock")
    assert settings.http_host == "0.0.0.0"  # noqa: S104 - published by Docker, so all interfaces
    assert settings.log_format == "json"
    assert runtime.env()["PATH"].startswith(f"{VENV}/bin:")


def test_the_healthcheck_asks_healthz_on_the_exposed_port(
    runtime: Stage, healthcheck: list[str]
) -> None:
    (exposed,) = runtime.one("EXPOSE").split()
    port = exposed.removesuffix("/tcp")
    assert runtime.env().get("APPLIANCE_HTTP_PORT", "8780") == port
    assert Settings.model_fields["http_port"].default == int(port)
    assert healthcheck[:2] == ["python", "-c"], "the image has no curl: Python asks"
    code = healthcheck[2]
    assert "http://127.0.0.1:" in code
    assert "/healthz" in code
    assert f"'{port}'" in code, "its fallback port is the exposed one"
    assert "APPLIANCE_HTTP_PORT" in code, "it follows the port when `docker run -e` changes it"


def test_the_build_installs_the_pinned_release_without_dev_extras(
    stages: list[Stage], build: Stage
) -> None:
    assert len({stage.base for stage in stages}) == 1, "both stages on one base: the venv's python"
    base = stages[0].base
    version = re.match(r"python:(\d+\.\d+)", base)
    assert version, base
    requires = pyproject()["project"]["requires-python"]  # type: ignore[index]
    assert version.group(1) in SpecifierSet(str(requires))

    installs = [
        part for run in build.all("RUN") for part in run.split("&&") if "pip install" in part
    ]
    assert len(installs) >= 1
    for command in installs:
        assert "-c constraints.txt" in command, command
        assert "dev" not in command, f"no dev extras: {command}"
        assert not re.search(r"(^|\s)(-e|--editable)(\s|$)", command), command
    # The appliance itself, with the extras the build argument names and no others: the shell
    # that runs the instruction expands it (a RUN's build arguments are its environment).
    assert "JOBROUTR_EXTRAS" in build.args
    raw = [args for keyword, args in build.instructions if keyword == "RUN"]
    (appliance,) = [
        part.strip()
        for run in raw
        for part in run.split("&&")
        if "pip install" in part and "requirements" not in part
    ]

    def as_run(command: str, extras: str) -> str:
        env = {"PATH": os.environ["PATH"], "JOBROUTR_EXTRAS": extras}
        done = subprocess.run(["sh", "-c", f"echo {command}"], env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout.strip()

    assert as_run(appliance, "") == "pip install -c constraints.txt ."
    assert as_run(appliance, "postgres") == "pip install -c constraints.txt .[postgres]"

    # The dependency layer installs exactly the project's dependencies: its snippet, run here.
    (snippet,) = re.findall(
        r'python -c "([^"]+)" > /tmp/requirements.txt', "\n".join(build.all("RUN"))
    )

    def listed(extras: str) -> list[str]:
        return subprocess.run(
            [str(APPLIANCE.parent / "python"), "-c", snippet],
            cwd=ROOT,
            env={**os.environ, "JOBROUTR_EXTRAS": extras},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()

    project = pyproject()["project"]
    assert listed("") == project["dependencies"]  # type: ignore[index]
    postgres = project["optional-dependencies"]["postgres"]  # type: ignore[index]
    assert listed("postgres") == project["dependencies"] + postgres  # type: ignore[index,operator]

    # What the build copies is what `pip install .` needs: the metadata's readme, the package.
    sources = {src for copy in build.all("COPY") for src in copy_parts(copy)[1]}
    readme = pyproject()["project"]["readme"]  # type: ignore[index]
    assert {"pyproject.toml", "constraints.txt", str(readme), "appliance"} <= sources


def test_the_final_stage_takes_only_the_venv_and_the_entrypoint(
    runtime: Stage, build: Stage
) -> None:
    copies = [copy_parts(args) for args in runtime.all("COPY")]
    from_build = [(srcs, dest) for flags, srcs, dest in copies if flags.get("from") == build.name]
    from_context = [(flags, srcs, dest) for flags, srcs, dest in copies if "from" not in flags]
    assert from_build == [([VENV], VENV)]
    assert len(from_context) == 1
    flags, srcs, dest = from_context[0]
    assert srcs == ["docker/entrypoint.sh"]
    assert flags.get("chmod") == "0755"
    assert exec_form(runtime.one("ENTRYPOINT")) == [dest]
    assert exec_form(runtime.one("CMD")) == ["serve"]


# --- .dockerignore --------------------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Go's filepath.Match extended with `**`, as Docker reads it."""
    pattern = posixpath.normpath(pattern.lstrip("/"))
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            out, i = out + "[" + ("^" + body[1:] if body.startswith("^") else body) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_excludes(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        negated = rule.startswith("!")
        regex = _regex(rule.removeprefix("!"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


@pytest.fixture(scope="module")
def ignore_rules() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_matching_is_dockers() -> None:
    rules = ["*", "!src", "**/__pycache__", "!keep/**/x.py[co]"]
    assert dockerignore_excludes("README", rules)
    assert not dockerignore_excludes("src/a/b.py", rules)
    assert dockerignore_excludes("src/a/__pycache__/b.pyc", rules)
    assert not dockerignore_excludes("keep/x.pyc", rules)


def test_dockerignore_sends_what_the_build_copies_and_nothing_else(
    stages: list[Stage], ignore_rules: list[str]
) -> None:
    sources = [
        src
        for stage in stages
        for flags, srcs, _ in (copy_parts(args) for args in stage.all("COPY"))
        if "from" not in flags
        for src in srcs
    ]
    sent: list[str] = []
    for source in sources:
        top = ROOT / source
        assert top.exists(), f"COPY {source}: not in the source tree"
        files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
        sent += [
            str(f.relative_to(ROOT))
            for f in files
            if "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo")
        ]
    assert any(p.endswith("migrations/script.py.mako") for p in sent), "package data goes too"
    for needed in sent:
        assert not dockerignore_excludes(needed, ignore_rules), f"{needed} is needed but ignored"
    never = [
        ".venv/bin/python",
        ".git/HEAD",
        ".state/appliance.db",
        ".state/keyring.json",
        "state/keyring.json",
        "appliance.db",
        "appliance/keyring.json",
        "appliance/storage/appliance.db-wal",
        "appliance/__pycache__/cli.cpython-311.pyc",
        "appliance/gateway/__pycache__/app.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/cache.db",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "jobroutr_appliance.egg-info/PKG-INFO",
        "tests/conftest.py",
        "build/lib/appliance/cli.py",
        "dist/jobroutr_appliance-1.0-py3-none-any.whl",
        "config/local.toml",
    ]
    for unwanted in never:
        assert dockerignore_excludes(unwanted, ignore_rules), f"{unwanted} would reach the builder"


# --- the image's run-time steps, run here -------------------------------------------------------


def image_env(runtime: Stage, state: Path, socket: Path, **extra: str) -> dict[str, str]:
    """The image's ENV, with this test's paths and ports, and this venv in place of /opt/venv."""
    env = {k: v for k, v in runtime.env().items() if k != "PATH"}
    env.update(
        APPLIANCE_STATE_DIR=str(state),
        APPLIANCE_ADMIN_SOCKET=str(socket),
        APPLIANCE_HTTP_HOST="127.0.0.1",
        APPLIANCE_HTTP_PORT=str(free_port()),
        # The embedded emulator's own port (8781 in the image) may be taken on this machine.
        APPLIANCE_QBO_EMULATOR_URL=f"http://127.0.0.1:{free_port()}",
        PATH=f"{APPLIANCE.parent}{os.pathsep}{os.environ['PATH']}",
        **extra,
    )
    return appliance_env(env)


def entrypoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_healthcheck(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    program = shutil.which(command[0], path=env["PATH"])
    assert program, f"{command[0]} is not on PATH"
    return subprocess.run(
        [program, *command[1:]], env=env, capture_output=True, text=True, timeout=10, check=False
    )


@pytest.mark.slow
def test_entrypoint_refuses_a_volume_never_initialised_and_creates_nothing(
    runtime: Stage, tmp_path: Path, short_dir: Path
) -> None:
    state = tmp_path / "state"
    env = image_env(runtime, state, short_dir / "admin.sock")
    cmd = exec_form(runtime.one("CMD"))
    result = entrypoint(*cmd, env=env)
    assert result.returncode == EX_CONFIG, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert f"The state directory {state} is not initialised" in result.stderr
    assert f"docker run --rm -it -v VOLUME:{state} IMAGE appliance init" in result.stderr
    assert not state.exists(), "no key, database or secret is made where only logs would show it"


@pytest.mark.slow
def test_entrypoint_leaves_a_wrong_setting_to_the_appliance_sentence(
    runtime: Stage, tmp_path: Path, short_dir: Path
) -> None:
    env = image_env(runtime, tmp_path / "state", short_dir / "admin.sock")
    env["APPLIANCE_QBO_ENVIRONMENT"] = "production"  # without a client id
    result = entrypoint("serve", env=env)
    assert result.returncode == EX_CONFIG
    assert "Traceback" not in result.stderr
    assert "APPLIANCE_QBO_CLIENT_ID is required" in result.stderr


@pytest.mark.slow
def test_entrypoint_initialises_then_serves_and_the_healthcheck_passes(
    runtime: Stage, healthcheck: list[str], tmp_path: Path, short_dir: Path
) -> None:
    state = tmp_path / "state"
    env = image_env(runtime, state, short_dir / "admin.sock")
    url = f"http://127.0.0.1:{env['APPLIANCE_HTTP_PORT']}"

    # First start: `docker run --rm -it -v VOLUME:STATE IMAGE appliance init`, on a terminal.
    init = entrypoint("appliance", "init", env=env)
    assert init.returncode == 0, init.stderr
    secrets = re.findall(r"JobRoutr (?:API key|webhook secret): +(\S+)", init.stdout)
    assert len(secrets) == 2, init.stdout

    # The healthcheck fails while nothing answers: Docker would mark the container unhealthy.
    assert run_healthcheck(healthcheck, env).returncode != 0

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            ["/bin/sh", str(ENTRYPOINT), *exec_form(runtime.one("CMD"))],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        try:
            wait_until(
                lambda: process.poll() is not None or answers(url + "/healthz"),
                what="the service to answer /healthz",
            )
            err.seek(0)
            assert process.poll() is None, err.read()

            # The script exec'd the service: it is PID 1 in the container and gets SIGTERM itself.
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
            assert b"serve" in cmdline
            assert not any(part.endswith(b"entrypoint.sh") for part in cmdline), cmdline

            check = run_healthcheck(healthcheck, env)
            assert check.returncode == 0, check.stderr
            # A proxy set for the way out to Intuit must not carry the check (nothing listens here).
            proxy = f"http://127.0.0.1:{free_port()}"
            check = run_healthcheck(healthcheck, {**env, "http_proxy": proxy, "HTTP_PROXY": proxy})
            assert check.returncode == 0, check.stderr

            # `docker exec -it CONTAINER appliance ...` has the same ENV: it finds the socket.
            status = run_appliance("status", "--json", env=env)
            assert status.returncode == 0, status.stderr
            assert json.loads(status.stdout)["store"]["schema_current"] is True

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0)
        err.seek(0)
        logs = out.read() + err.read()

    assert run_healthcheck(healthcheck, env).returncode != 0
    # `docker logs`: JSON lines, and never the secrets `appliance init` showed.
    lines = [line for line in logs.splitlines() if line.strip()]
    assert lines
    events = [json.loads(line)["event"] for line in lines]
    assert "service.started" in events
    assert "service.stopped" in events
    for secret in secrets:
        assert secret not in logs
