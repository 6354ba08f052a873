"""Video files: reading frames with clear errors (following their faces: :mod:`emolens.pipeline.tracking`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Optional

import cv2
import numpy as np

from emolens.errors import InputError


class VideoReader:
    """Frames of a video file, one at a time (memory stays flat however long the video), from frame ``start``
    on (OpenCV's seek, ``CAP_PROP_POS_FRAMES``). While the caller works on a frame, the next one is decoded on
    another thread (OpenCV releases the GIL), so decoding overlaps analysis on a second core. The file stays open
    until the frames run out, :meth:`close` or the end of a ``with`` block.

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
        self._first: Optional[np.ndarray] = first  # None once closed
        self._decoding: Optional[Future[Optional[np.ndarray]]] = None  # the next frame's read

    def __iter__(self) -> Iterator[np.ndarray]:
        """BGR frames; the reader can be iterated once."""
        frame = self._first
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="video-decode") as decoder:
                while frame is not None:
                    self._decoding = decoding = decoder.submit(self._read)
                    yield frame
                    frame = decoding.result() if self._first is not None else None  # None: the end, or closed
        finally:
            self.close()

    def _read(self) -> Optional[np.ndarray]:
        """The next frame, or None at the end."""
        ok, frame = self._capture.read()
        return frame if ok else None

    def close(self) -> None:
        """Release the file (once a read in progress has finished); iterating afterwards gives no frames.
        Idempotent."""
        self._first = None
        if self._decoding is not None:
            self._decoding.exception()  # wait for it: the capture must not be released under a read
            self._decoding = None
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()
