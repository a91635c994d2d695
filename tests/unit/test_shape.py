"""`python3 tasks.py shape` (run by the lint, so by CI) finds what issue 18 set as the shape
every module keeps: modules over 500 lines, functions over 60, radon grade D or worse."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import tasks


def _function(name: str, body_lines: int, branches: int = 0) -> str:
    body = [f"    if x == {n}:\n        return {n}\n" for n in range(branches)]
    body += ["    x += 1\n"] * body_lines
    return f"def {name}(x):\n{''.join(body)}    return x\n"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    (tmp_path / "appliance").mkdir()
    return tmp_path


def test_a_long_function_and_a_long_module_are_problems(root: Path) -> None:
    module = root / "appliance" / "long.py"
    module.write_text(_function("fine", 58) + "\n" + _function("too_long", 60) + "x = 1\n" * 380)
    problems = tasks.size_problems(tasks.python_files(["appliance"]))
    assert len(problems) == 2
    assert problems[0].startswith("appliance/long.py: ")
    assert "over 500" in problems[0]
    assert "too_long" in problems[1]
    assert "fine" not in " ".join(problems)


def test_the_seed_data_is_exempt_from_the_sizes(root: Path) -> None:
    (root / "appliance" / "emulator").mkdir()
    (root / "appliance" / "emulator" / "seed.py").write_text("x = 1\n" * 900)
    assert tasks.size_problems(tasks.python_files(["appliance"])) == []


def test_a_function_of_grade_d_is_a_problem(root: Path) -> None:
    if not (tasks.BIN / "radon").exists():
        pytest.skip("radon is not installed in the project's venv: run python3 tasks.py lint")
    (root / "appliance" / "branchy.py").write_text(_function("branchy", 1, branches=22))
    (problem,) = tasks.complexity_problems(tasks.python_files(["appliance"]))
    assert "branchy" in problem
    assert "complexity D" in problem
