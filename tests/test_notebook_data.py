"""The notebook on the user's own data: a folder-per-class tree without split folders, which its first cell
offers, runs to the end (train, evaluate on the tree's own test split, export, analyse)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.data import REPO
from support.helpers import plain_tree

pytest.importorskip("torch", reason="the notebook trains: needs the [train] extra (PyTorch)")


@pytest.mark.slow  # trains the smoke config
def test_the_notebook_runs_on_a_tree_without_split_folders(tmp_path: Path, fer_dir: Path) -> None:
    tree = plain_tree(tmp_path / "mydata", fer_dir, {"happy": 30, "sad": 30, "angry": 30, "surprise": 30})
    env = {**os.environ, "EMOLENS_NOTEBOOK_DATA": str(tree), "EMOLENS_NOTEBOOK_SMOKE": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "pytest", "notebooks/", "-q", "-p", "no:randomly", "-p",
                           "no:cacheprovider"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
