"""Short runs of the reliability scripts in ``benchmarks/`` (the long runs and their figures: docs/reliability.md):
load with a frozen PostgreSQL mid-run, and fuzzing. Each script exits 1 when a check fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def script(name: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(BENCHMARKS / name), *args, "--check"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result.stdout


def test_load_with_frozen_postgresql_loses_nothing(photos_dir: Path, postgres_binaries: Path) -> None:
    out = script("reliability_load.py", "--clients", "8", "--seconds", "15", "--database", "postgresql",
                 "--fault", "db-freeze")
    assert "acknowledged but lost 0" in out


def test_fuzzing_finds_no_server_error(photos_dir: Path) -> None:
    out = script("reliability_fuzz.py", "--examples", "3", "--images", "300")
    assert "workers alive (same pids): True, health ok: True" in out
