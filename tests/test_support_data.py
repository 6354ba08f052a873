"""The real data's location is defined once (``tests/support/data.py``), beside the repository unless
``EMOLENS_SHARED_DATA`` names another folder, for the tests, the benchmarks and the notebook alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.data import REPO

SHOW = "from common import FER, PHOTOS; print(FER); print(PHOTOS)"


def locations(env: dict[str, str]) -> list[str]:
    """Where a benchmark finds the data when run as ``python benchmarks/NAME.py`` (its folder first on the path)."""
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, 'benchmarks'); {SHOW}"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


def test_benchmarks_find_the_data_where_the_tests_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EMOLENS_SHARED_DATA"}
    assert locations(env) == [str(REPO.parent / "shared" / "data" / "fer2013"),
                              str(REPO.parent / "shared" / "data" / "face_photos")]
    assert locations({**env, "EMOLENS_SHARED_DATA": str(tmp_path)}) == [str(tmp_path / "fer2013"),
                                                                        str(tmp_path / "face_photos")]
