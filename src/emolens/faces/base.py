"""What every face detector returns, and the interface a detector backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

Box = tuple[float, float, float, float]
"""A face box ``(x, y, width, height)`` in image pixels."""


@dataclass(frozen=True)
class Detection:
    """One face found by a detector.

    Attributes:
        box: ``(x, y, width, height)`` in image pixels. For a face cut by the image edge the box is the whole
            face's, so it may reach past the edge (negative ``x`` or ``y``, or beyond the width or height).
        score: detector confidence in [0, 1].
        landmarks: ``(K, 2)`` float array of points in image pixels, or ``None`` when the backend gives none.
            Where present, rows 0 and 1 are the eye centres, the eye on the image's left first.
    """

    box: Box
    score: float
    landmarks: Optional[np.ndarray] = None


class FaceDetector(ABC):
    """A face detector backend. Implementations must be safe to call from several threads at once."""

    name: str = ""
    box_scale: float = 1.0
    """How this backend's box side compares with BlazeFace's on the same face. The model's crop margin is
    measured with BlazeFace (benchmarks/crop_margin.py); crops multiply the box side by this first."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Detection]:
        """All faces in a BGR uint8 image (H, W, 3), best first."""

    def detect_near(self, image: np.ndarray, boxes: Sequence[Box]) -> Optional[list[Detection]]:
        """The faces near ``boxes`` (where a stream's faces were a frame ago), looking only there: much cheaper than
        :meth:`detect` on the whole image when the faces are few. None when this backend cannot look near boxes
        alone (its callers then use :meth:`detect`)."""
        return None

    def close(self) -> None:  # noqa: B027 - a no-op by default: most backends hold nothing beyond memory
        """Free what the backend holds beyond memory (threads); it detects no more afterwards."""
