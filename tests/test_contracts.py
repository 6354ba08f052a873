"""Checks on the code itself: import layers (import-linter, contracts in pyproject.toml), function length and a
command line whose --help stays light. ruff and mypy (run by .ci/run, rules in pyproject.toml) check the rest,
print() outside cli/ included (ruff's T20)."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import click

from emolens.cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "emolens"
MAX_FUNCTION_LINES = 60


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _env() -> dict[str, str]:
    """This checkout's code first, whatever the installed package points at."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def test_import_contracts_hold() -> None:
    """The layers (cli; web, batch, training; evaluation; pipeline, datasets, storage; faces, emotion), storage
    free of the web, training imported only by cli, Flask, Ray and torch each in its own corner (see
    [tool.importlinter] in pyproject.toml)."""
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache", "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_function_is_over_60_lines() -> None:
    """A check of its own: ruff has no lines-per-function rule (C901 counts branches, PLR0915 statements)."""
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}() has {lines} lines")
    assert not long, "\n".join(long)


def test_help_imports_neither_flask_nor_opencv() -> None:
    code = ("import sys; from emolens.cli.main import cli\n"
            "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('loaded:', *(m for m in ('flask', 'cv2', 'gunicorn', 'onnxruntime', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60,
                          check=True)
    *help_lines, loaded = done.stdout.rstrip("\n").split("\n")
    assert loaded == "loaded:", f"emolens --help imported {loaded}"
    listed = {line.split()[0] for line in help_lines[help_lines.index("Commands:") + 1:] if line[2] != " "}
    assert listed == set(COMMANDS)


def test_every_listed_command_is_its_module_command() -> None:
    for name, (module, short_help) in COMMANDS.items():
        command = importlib.import_module(module).command
        assert isinstance(command, click.Command) and command.name == name
        assert short_help.endswith(".") and len(short_help) <= 80


def test_skipped_tests_say_why_by_default(tmp_path: Path) -> None:
    """The project's pytest settings (-rs in addopts) list each skip with its reason, not a bare 's'."""
    (tmp_path / "test_skip.py").write_text("import pytest\n\ndef test_x():\n    pytest.skip('needs a thing')\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p", "no:randomly",
                           "-p", "no:cacheprovider", str(tmp_path / "test_skip.py")], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    assert "SKIPPED [1] test_skip.py:4: needs a thing" in done.stdout


def test_the_readme_s_first_output_folder_is_not_committed() -> None:
    """`emolens analyze ... --annotate out/` (the README's first command) writes into out/, which git ignores."""
    done = subprocess.run(["git", "check-ignore", "-q", "out/astronaut.jpg"], cwd=REPO, timeout=60)
    assert done.returncode == 0
