"""The base install and its extras: a command that needs a package of an extra that is not installed says in one
line which extra to install (src/emolens/extras.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emolens.extras import missing_extra

REPO = Path(__file__).resolve().parents[1]


def _without(module: str, *args: str) -> subprocess.CompletedProcess:
    """``emolens ARGS`` in a new process where importing ``module`` fails as if it were not installed."""
    code = f"import sys; sys.modules[{module!r}] = None; from emolens.cli.main import cli; cli()"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module, extra, args", [
    ("flask", "web", ["serve", "--port", "0"]),
    ("sqlalchemy", "web", ["serve", "--port", "0"]),
    ("sklearn", "reports", ["evaluate", "{fer}", "--split", "test"]),
    ("ray", "ray", ["batch", "{photos}", "--out", "{tmp}/out"]),
    ("torch", "train", ["export", "{tmp}/best.pt", "--out", "{tmp}/model.onnx"]),
])
def test_a_command_without_its_extra_names_it_in_one_line(module: str, extra: str, args: list[str], fer_dir: Path,
                                                          photos_dir: Path, tmp_path: Path) -> None:
    paths = {"fer": fer_dir, "photos": photos_dir, "tmp": tmp_path}
    done = _without(module, *(a.format(**paths) for a in args))
    assert done.returncode == 1
    assert done.stderr == f'Error: this needs {module}, from the "{extra}" extra: pip install "emolens[{extra}]"\n'


def test_a_module_of_no_extra_is_a_bug_that_keeps_its_traceback() -> None:
    assert missing_extra(ModuleNotFoundError("No module named 'emolens.nothing'", name="emolens.nothing")) is None
    assert "emolens[web]" in str(missing_extra(ModuleNotFoundError("No module named 'flask.json'", name="flask.json")))
