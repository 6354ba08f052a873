"""Shared helpers for the benchmarks: where the real data is, and real 640x480 frames built from the photos.

The benchmarks run as scripts (``python benchmarks/NAME.py``) and share the tests' support package
(``tests/support``: the data location, serving the web app): importing this module puts ``tests`` on the path,
once, here (pytest gets it from ``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.append(str(REPO / "tests"))

from support.data import FER as FER  # noqa: E402  (re-exported; needs the path above)
from support.data import PHOTOS as PHOTOS  # noqa: E402


def photo_face_counts() -> dict[Path, int]:
    """Every photo with its face count: the README's count for the multi-face photos, 1 for the others."""
    with (PHOTOS / "labels.csv").open() as f:
        return {PHOTOS / row["path"]: int(row["n_faces_approx"] or 1) for row in csv.DictReader(f)}


def frame_640x480(image: np.ndarray) -> np.ndarray:
    """The photo scaled to fit 640x480 and centred on a grey 640x480 canvas (a webcam-sized frame)."""
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 114, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return frame


def one_face_frames(limit: int | None = None) -> list[np.ndarray]:
    """640x480 frames from the single-face photos."""
    paths = [p for p, n in sorted(photo_face_counts().items()) if n == 1][:limit]
    return [frame_640x480(cv2.imread(str(p))) for p in paths]


def median_p90(ms: list[float]) -> str:
    """``median X ms, p90 Y ms``."""
    p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]
    return f"median {statistics.median(ms):6.2f} ms, p90 {p90:6.2f} ms"
