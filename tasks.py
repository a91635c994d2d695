#!/usr/bin/env python3
"""The two commands of the quick start, needing nothing but Python 3.11+.

    python3 tasks.py run     install into .venv, initialise, and run the appliance on its defaults
    python3 tasks.py test    install into .venv with the dev tools, then lint, type-check and test

`test` passes any further arguments to pytest (e.g. `python3 tasks.py test -k vault`); `test --fast`
leaves out the long fault runs of tests/chaos/ (what CI runs is `test`, everything).
`lint` runs only the checks. Dependencies are pinned by constraints.txt.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("APPLIANCE_VENV", ROOT / ".venv"))
BIN = VENV / "bin"


def sh(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        sh(sys.executable, "-m", "venv", VENV)
    inputs = b"".join((ROOT / name).read_bytes() for name in ("pyproject.toml", "constraints.txt"))
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256(inputs).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    sh(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(BIN / "python", "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", target)
    stamp.write_text(digest)


def lint() -> None:
    sh(BIN / "ruff", "check", "appliance", "tests", "bench", "tasks.py")
    sh(BIN / "ruff", "format", "--check", "appliance", "tests", "bench", "tasks.py")
    sh(BIN / "mypy", "appliance")
    sh(BIN / "lint-imports", "--no-cache")


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "help"
    if command == "run":
        ensure_venv("")
        sh(BIN / "appliance", "init")
        print("\nThe appliance is starting. In another terminal: .venv/bin/appliance status\n")
        os.execv(BIN / "appliance", [str(BIN / "appliance"), "serve", *argv[1:]])
    elif command == "test":
        ensure_venv("dev")
        lint()
        args = argv[1:]
        if "--fast" in args:
            args = ["-m", "not chaos", *(a for a in args if a != "--fast")]
        sh(BIN / "pytest", *args)
    elif command == "lint":
        ensure_venv("dev")
        lint()
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
