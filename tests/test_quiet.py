"""A quiet terminal: each command prints the line that matters, not what the libraries underneath print; their
warnings and notes come back with ``emolens --verbose``. Each runs the real command in a new process, since what
is quietened (FFmpeg's log level, C-level stderr) is set once per process. ``emolens batch``: tests/test_batch.py."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

EMOLENS = [sys.executable, "-c", "from emolens.cli.main import cli; cli()"]


def emolens(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*EMOLENS, *args], capture_output=True, text=True, timeout=timeout)


def test_export_prints_its_one_line(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason='needs the [train] extra: pip install -e ".[train]"')
    from emolens.labels import FER2013_LABELS
    from emolens.training.checkpoint import save_checkpoint
    from emolens.training.config import TrainConfig
    from emolens.training.model import build_model

    config = TrainConfig()
    model = build_model(config, len(FER2013_LABELS), pretrained=False)
    save_checkpoint({"model": model.state_dict(), "config": dataclasses.asdict(config),
                     "label_names": list(FER2013_LABELS)}, tmp_path / "best.pt")
    out = tmp_path / "model.onnx"
    done = emolens("export", str(tmp_path / "best.pt"), "--out", str(out))
    assert done.returncode == 0 and done.stderr == "", done.stderr  # torch's ONNX exporter warns thrice, 6 lines
    assert done.stdout == f"exported {out}: labels {', '.join(FER2013_LABELS)}; input 64px gray\n"
    verbose = emolens("--verbose", "export", str(tmp_path / "best.pt"), "--out", str(out))
    assert verbose.returncode == 0 and "UserWarning" in verbose.stderr


def test_a_broken_video_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    done = emolens("video", str(fake))
    assert done.returncode == 1
    assert done.stderr == f"Error: {fake}: cannot decode video (not a video file, or corrupt)\n"
    verbose = emolens("-v", "video", str(fake))
    assert "moov atom not found" in verbose.stderr  # FFmpeg's own words, through OpenCV


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run([*EMOLENS, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "EMOLENS_DATA_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr == (f"Error: cannot listen on 127.0.0.1:{port}: Address already in use (another server? "
                           "choose another --port)\n")  # gunicorn alone: 11 lines over 5 s of retries
