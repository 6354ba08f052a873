"""Helpers the tests share (imported as ``support.helpers``; fixtures stay in ``conftest.py``): where the small
committed fixtures are, the one float32 bound for runs that sum in another order, real-data video and folder
builders, the repo's tools as modules, and the skip that CI turns into a failure."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from support.data import REPO, SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KERNEL_ORDER_ABS = 1e-4
"""How far two float32 runs of one network may put a probability apart when they sum in another order: PyTorch
against ONNX Runtime, or ONNX Runtime on another batch size, thread count or graph (its CPU kernels may block a
batch or a dot product differently on another CPU). Only the rounding differs: a float32 dot product of K terms is
off by about sqrt(K) * 2**-24 of its magnitude (K <= 1,280 here: 2e-6), the batch-normalised layers carry that
on without growth, so the logits (|logit| < 20) agree to about 1e-5; a softmax moves a probability by at most half
the largest logit change. 1e-4 keeps a factor of ten over that. The same computation on the same machine (same
inputs, shapes and thread count) gives the same bits, and tests that compare such runs demand equality."""
NO_DATA = f"needs the real data in {SHARED_DATA} (present in CI and the dev machines, not in a fresh clone)"


def write_photo_video(path: Path, photos_dir: Path) -> Path:
    """A 10 frames/s Motion JPEG video (near-lossless, so each frame keeps every face) made from real photos:
    12 frames of the couple drifting right, then 6 frames of the six-face photo."""
    import cv2
    import numpy as np

    def frame(name: str) -> np.ndarray:
        return cv2.resize(cv2.imread(str(photos_dir / name)), (640, 360), interpolation=cv2.INTER_AREA)

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    couple, many = frame("deepface_couple.jpg"), frame("facenet_multiface.jpg")
    for i in range(12):
        writer.write(np.roll(couple, 3 * i, axis=1))
    for _ in range(6):
        writer.write(many)
    writer.release()
    return path


def plain_tree(root: Path, fer_dir: Path, counts: dict[str, int]) -> Path:
    """A folder-per-class tree without split folders (``root/<emotion>/*.png``): the first ``counts[emotion]``
    real FER2013 publictest faces of each emotion."""
    for emotion, n in counts.items():
        (root / emotion).mkdir(parents=True)
        for png in sorted((fer_dir / "publictest" / emotion).glob("*.png"))[:n]:
            shutil.copy(png, root / emotion / png.name)
    return root


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``condition`` holds; in CI (CI=true) fail instead, since CI has
    everything a test needs."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must not skip: {reason}")
    pytest.skip(reason)


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module (the tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
