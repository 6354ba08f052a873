"""Video: reading frames with clear errors, and following faces across frames (track IDs, smoothed emotions).

The tracker is used by an :class:`~emolens.pipeline.analyzer.Analyzer` in video mode
(:meth:`~emolens.pipeline.analyzer.Analyzer.analyze_for_video`), which holds one per stream."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Optional

import cv2
import numpy as np

from emolens.errors import InputError
from emolens.faces import Detection
from emolens.pipeline.options import DEFAULT_SMOOTHING_S


class VideoReader:
    """Frames of a video file, one at a time (memory stays flat however long the video), from frame ``start``
    on (OpenCV's seek, ``CAP_PROP_POS_FRAMES``). The file stays open until the frames run out, :meth:`close` or
    the end of a ``with`` block.

    Raises:
        InputError: the file is missing, or no frame can be decoded from it.
    """

    def __init__(self, path: str | Path, start: int = 0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        self._capture = cv2.VideoCapture(str(self.path))
        if start:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or first is None:
            self._capture.release()
            raise InputError(f"{self.path}: cannot decode video (not a video file, or corrupt)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and fps > 0 else 25.0
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        self.width, self.height = first.shape[1], first.shape[0]
        self._first: Optional[np.ndarray] = first

    def __iter__(self) -> Iterator[np.ndarray]:
        """BGR frames; the reader can be iterated once."""
        frame = self._first
        try:
            while frame is not None:
                yield frame
                ok, frame = self._capture.read()
                if not ok:
                    frame = None
        finally:
            self.close()

    def close(self) -> None:
        """Release the file; iterating afterwards gives no frames. Idempotent."""
        self._first = None
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every ``(x, y, w, h)`` box in ``a`` (N, 4) with every one in ``b`` (M, 4)."""
    ax0, ay0, ax1, ay1 = a[:, None, 0], a[:, None, 1], a[:, None, 0] + a[:, None, 2], a[:, None, 1] + a[:, None, 3]
    bx0, by0, bx1, by1 = b[None, :, 0], b[None, :, 1], b[None, :, 0] + b[None, :, 2], b[None, :, 1] + b[None, :, 3]
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * \
        np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    iou: np.ndarray = inter / np.maximum(union, 1e-9)
    return iou


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    scores: np.ndarray
    last_seen_s: float


@dataclass
class FaceTracker:
    """Gives each face an ID that persists across frames (greedy matching by box overlap) and smooths its
    emotion probabilities with an exponential moving average over time.

    Attributes:
        smoothing_s: time constant of the moving average, in seconds (0: no smoothing).
        iou_threshold: a detection continues a track when their boxes overlap at least this much.
        forget_s: a track unseen for this long is dropped; a face that returns later gets a new ID.
    """

    smoothing_s: float = DEFAULT_SMOOTHING_S
    iou_threshold: float = 0.3
    forget_s: float = 1.0
    _tracks: list[_Track] = field(default_factory=list, init=False, repr=False)
    _next_id: int = field(default=1, init=False, repr=False)

    def update(self, detections: list[Detection], probs: np.ndarray, time_s: float) -> list[tuple[int, np.ndarray]]:
        """Match this frame's detections to tracks; returns ``(track_id, smoothed probabilities)`` per detection."""
        self._tracks = [t for t in self._tracks if time_s - t.last_seen_s <= self.forget_s]
        boxes = np.array([d.box for d in detections], np.float32).reshape(-1, 4)
        assigned: dict[int, _Track] = {}
        if self._tracks and len(boxes):
            overlap = iou_matrix(np.stack([t.box for t in self._tracks]), boxes)
            matches = np.argwhere(overlap >= self.iou_threshold).tolist()
            for ti, di in sorted(matches, key=lambda p: -overlap[p[0], p[1]]):
                if di not in assigned and self._tracks[ti] not in assigned.values():
                    assigned[di] = self._tracks[ti]
        out = []
        for i, (box, p) in enumerate(zip(boxes, probs, strict=True)):
            track = assigned.get(i)
            if track is None:
                track = _Track(self._next_id, box, p, time_s)
                self._next_id += 1
                self._tracks.append(track)
            else:
                dt = time_s - track.last_seen_s
                alpha = 1.0 if self.smoothing_s <= 0 else 1.0 - math.exp(-max(dt, 1e-3) / self.smoothing_s)
                track.scores = alpha * p + (1 - alpha) * track.scores
                track.box, track.last_seen_s = box, time_s
            out.append((track.track_id, track.scores))
        return out
