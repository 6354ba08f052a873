"""Typed results of the pipeline. Each serialises to plain JSON types with ``to_dict()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """One face and its emotion.

    Attributes:
        box: ``(x, y, width, height)`` of the face in image pixels (integers); may reach past the image edge for a
            face the edge cuts.
        landmarks: ``(x, y)`` points in image pixels from the detector (eyes first), or ``None`` if it gives none.
        emotion: the most probable emotion label.
        scores: probability per emotion label, in the model's label order; they sum to 1.
        detection_score: the detector's confidence in [0, 1].
        track_id: identity of the face across video frames (``None`` for still images).
    """

    box: tuple[int, int, int, int]
    landmarks: Optional[tuple[Point, ...]]
    emotion: str
    scores: dict[str, float]
    detection_score: float = 1.0
    track_id: Optional[int] = None

    @property
    def confidence(self) -> float:
        """Probability of the top emotion."""
        return self.scores[self.emotion]

    def to_dict(self) -> dict[str, Any]:
        """``{"box": [x, y, w, h], "landmarks": [[x, y], ...] | null, "emotion", "scores", "detection_score",
        "track_id"}``, rounded for output."""
        return {
            "box": list(self.box),
            "landmarks": None if self.landmarks is None else [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "emotion": self.emotion,
            "scores": {label: round(p, 5) for label, p in self.scores.items()},
            "detection_score": round(self.detection_score, 4),
            "track_id": self.track_id,
        }
