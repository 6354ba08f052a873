"""OpenCV's Haar cascade face detector (frontal faces, no landmarks), with the cascade that ships in ``cv2.data``."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import cv2.data
import numpy as np

from emolens.errors import ModelError
from emolens.faces.base import Detection, FaceDetector


class HaarDetector(FaceDetector):
    """Viola-Jones frontal-face cascade.

    Args:
        max_side: images are shrunk so that their longer side is at most this many pixels before detection
            (speed); boxes are mapped back to the original pixels.
        min_size: smallest face side searched for, in pixels of the shrunk image.
        min_neighbors: OpenCV's ``minNeighbors``: higher means fewer false positives and fewer faces.
    """

    name = "haar"
    box_scale = 1.05 / 1.148  # crop margins measured on FER2013: 0.025 with Haar, 0.074 with BlazeFace

    def __init__(self, max_side: int = 960, min_size: int = 24, min_neighbors: int = 5) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ModelError(f"{path}: cannot load the Haar cascade")
        self._lock = threading.Lock()  # CascadeClassifier is not documented as thread-safe
        self.max_side, self.min_size, self.min_neighbors = max_side, min_size, min_neighbors

    def detect(self, image: np.ndarray) -> list[Detection]:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        scale = min(1.0, self.max_side / max(gray.shape[:2]))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        with self._lock:
            boxes, _, weights = self._cascade.detectMultiScale3(
                gray, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(self.min_size, self.min_size),
                outputRejectLevels=True)
        found = [
            Detection(tuple(float(v) / scale for v in box), float(1.0 / (1.0 + np.exp(-weight))))
            for box, weight in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True)
        ]
        return sorted(found, key=lambda d: -d.score)
