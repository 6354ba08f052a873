"""Overlays for annotated images, videos and the webcam window: boxes, landmarks, emotion labels and scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from emolens.labels import bgr, label_colours
from emolens.pipeline.results import Face


def _label(image: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int], scale: float) -> None:
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = min(max(0, x), max(0, image.shape[1] - tw))
    y = max(th + base, y)
    cv2.rectangle(image, (x, y - th - base), (x + tw, y), color, cv2.FILLED)
    cv2.putText(image, text, (x, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def annotate(image: np.ndarray, faces: Sequence[Face], top: int = 3, fps: Optional[float] = None) -> np.ndarray:
    """A copy of a BGR image with each face's box, landmarks, ``#id emotion NN%`` label and its ``top`` scores."""
    out: np.ndarray = image.copy()
    scale = max(0.4, min(2.0, max(image.shape[:2]) / 1200))
    for face in faces:
        x, y, w, h = face.box
        colours = {label: bgr(c) for label, c in label_colours(tuple(face.scores)).items()}  # the model's labels
        color = colours[face.emotion]
        cv2.rectangle(out, (x, y), (x + w, y + h), color, max(1, round(scale * 2)))
        for px, py in face.landmarks or ():
            cv2.circle(out, (round(px), round(py)), max(1, round(scale * 2)), (0, 255, 0), cv2.FILLED)
        prefix = "" if face.track_id is None else f"#{face.track_id} "
        _label(out, f"{prefix}{face.emotion} {face.confidence:.0%}", x, y, color, scale)
        ranked = sorted(face.scores.items(), key=lambda kv: -kv[1])[1:top]
        for i, (name, p) in enumerate(ranked):
            line_h = round(30 * scale)
            _label(out, f"{name} {p:.0%}", x, y + h + line_h * (i + 1), colours[name], scale * 0.8)
    if fps is not None:
        _label(out, f"{fps:.1f} FPS", 0, round(40 * scale), (255, 255, 255), scale)
    return out
