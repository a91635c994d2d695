#!/usr/bin/env python3
"""The two commands of the quick start, needing nothing but Python 3.11+.

    python3 tasks.py run     install into .venv, initialise, and run the appliance on its defaults
    python3 tasks.py test    install into .venv with the dev tools, then lint, type-check and test

`test` passes any further arguments to pytest (e.g. `python3 tasks.py test -k vault`); `test --fast`
leaves out the long fault runs of tests/chaos/ and the real container and unit of tests/deploy/
(what CI runs is `test`, everything). After the SQLite run, `test` runs the tests marked `stores`
again on PostgreSQL (`--store=postgres`: a server of the session's own, Debian's postgresql
installed when missing).
`lint` runs only the checks, `shape` among them: it lists modules over 500 lines, functions over
60 lines and functions of cyclomatic complexity grade D or worse (radon) in appliance/ (or the
paths given), and fails the lint when appliance/ has any.
Dependencies are pinned by constraints.txt.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("APPLIANCE_VENV", ROOT / ".venv"))
BIN = VENV / "bin"


def sh(*args: str | Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if result.returncode not in ok:
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
    print(f"+ installing into {VENV} (a minute the first time)", flush=True)
    quietly(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    quietly(
        BIN / "python", "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", target
    )
    stamp.write_text(digest)


def quietly(*args: str | Path) -> None:
    """Run a step whose output matters only when it fails (pip, whose build backend warns about
    every editable install even with --quiet): shown then, with the command, else not at all."""
    result = subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        print("+", " ".join(str(a) for a in args), flush=True)
        print(result.stdout + result.stderr, file=sys.stderr, flush=True)
        sys.exit(result.returncode)


def lint() -> None:
    sh(BIN / "ruff", "check", "appliance", "tests", "bench", "tasks.py")
    sh(BIN / "ruff", "format", "--check", "appliance", "tests", "bench", "tasks.py")
    sh(BIN / "mypy", "appliance")
    sh(BIN / "lint-imports", "--no-cache")
    print("+ shape appliance", flush=True)
    if shape(["appliance"]):
        sys.exit(1)  # a module, function or complexity over the shape every module keeps


# The shape every module keeps (issue 18). Exempt: the emulator's seed data and Alembic's generated
# migrations from the sizes; from the complexity grade, the emulator (it mirrors QBO's own case
# lists) and the parser of QBO's faults (one case per fault shape Intuit sends).
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
SIZE_EXEMPT = ("appliance/emulator/seed.py", "appliance/storage/migrations/versions/")
COMPLEXITY_EXEMPT = ("appliance/emulator/",)
COMPLEXITY_EXEMPT_FUNCTIONS = {("appliance/qbo/faults.py", "parse_error")}


def python_files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = ROOT / name
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    """Every function and method with its dotted name (``Class.method``, ``outer.inner``)."""
    found: list[tuple[str, ast.AST]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                found.append((name, node))
            found.extend(functions(node, name + "."))
        else:
            found.extend(functions(node, prefix))
    return found


def size_problems(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(SIZE_EXEMPT):
            continue
        text = path.read_text()
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            problems.append(f"{name}: {lines} lines (over {MAX_MODULE_LINES})")
        for qualname, node in functions(ast.parse(text)):
            length = node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]
            if length > MAX_FUNCTION_LINES:
                where = f"{name}:{node.lineno}"  # type: ignore[attr-defined]
                problems.append(f"{where} {qualname}: {length} lines (over {MAX_FUNCTION_LINES})")
    return problems


def complexity_problems(files: list[Path]) -> list[str]:
    """radon's grade D or worse: cyclomatic complexity over 20."""
    relative = {str(p): p.relative_to(ROOT).as_posix() for p in files}
    names = [str(p) for p, name in relative.items() if not name.startswith(COMPLEXITY_EXEMPT)]
    if not names:
        return []
    found = subprocess.run(
        [str(BIN / "radon"), "cc", "--json", "--min", "D", *names],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    problems = []
    for filename, blocks in json.loads(found.stdout).items():
        name = relative[filename]
        for block in blocks:
            qualname = ".".join(filter(None, (block.get("classname"), block["name"])))
            if (name, qualname) not in COMPLEXITY_EXEMPT_FUNCTIONS:
                grade = f"complexity {block['rank']} ({block['complexity']})"
                problems.append(f"{name}:{block['lineno']} {qualname}: {grade}")
    return problems


def shape(paths: list[str]) -> int:
    files = python_files(paths)
    problems = size_problems(files) + complexity_problems(files)
    for problem in problems:
        print(problem)
    if problems:
        print(f"shape: {len(problems)} problems in {', '.join(paths)}")
        return 1
    print(
        f"shape: {', '.join(paths)} has no module over {MAX_MODULE_LINES} lines, no function "
        f"over {MAX_FUNCTION_LINES} lines and no complexity grade D or worse"
    )
    return 0


def test_passes(args: list[str]) -> list[list[str]]:
    """pytest's runs: the whole suite on SQLite, then the tests marked `stores` (the store,
    intake, queue, push, import and token tests) on a real PostgreSQL server the session starts
    (Debian's postgresql, installed when missing; they skip with the reason where it cannot be
    had). `--fast` leaves out the chaos runs and the deploy tests in both."""
    fast = "--fast" in args
    rest = [a for a in args if a != "--fast"]
    sqlite = ["-m", "not chaos and not deploy", *rest] if fast else rest
    marks = "stores and not chaos and not deploy" if fast else "stores"
    return [sqlite, ["-m", marks, "--store=postgres", *rest]]


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "help"
    if command == "run":
        ensure_venv("")
        # One process: the ports are checked first, then `init`, then the service (serve --init).
        os.execv(BIN / "appliance", [str(BIN / "appliance"), "serve", "--init", *argv[1:]])
    elif command == "test":
        ensure_venv("dev")
        lint()
        sqlite, postgres = test_passes(argv[1:])
        sh(BIN / "pytest", *sqlite)
        sh(BIN / "pytest", *postgres, ok=(0, 5))  # 5: -k chose no store test
    elif command == "lint":
        ensure_venv("dev")
        lint()
    elif command == "shape":
        ensure_venv("dev")
        sys.exit(shape(argv[1:] or ["appliance"]))
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
