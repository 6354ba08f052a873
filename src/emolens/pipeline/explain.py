"""Explanations placed in the image: where each face's crop lies, and heat-map overlays of occlusion grids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from emolens.emotion.explain import Explanation
from emolens.faces.align import eye_angle
from emolens.pipeline.results import Face

HEAT_SIDE = 64
"""Side, in pixels, of the heat map that is warped into the image."""


@dataclass(frozen=True)
class CropRegion:
    """The square of the image a face's crop was cut from: centre, side and rotation (degrees; the crop's
    x axis points along ``(cos angle, sin angle)`` in image pixels, y down), as in
    :func:`emolens.faces.align.crop_face`."""

    center: tuple[float, float]
    side: float
    angle: float

    @classmethod
    def of(cls, face: Face, margin: float, box_scale: float = 1.0) -> CropRegion:
        x, y, w, h = face.box
        landmarks = None if face.landmarks is None else np.asarray(face.landmarks)
        return cls((x + w / 2.0, y + h / 2.0), max(w, h) * box_scale * (1.0 + 2.0 * margin), eye_angle(landmarks))

    def to_image(self, size: int) -> np.ndarray:
        """2x3 affine matrix from the pixels of a ``size`` x ``size`` crop to image pixels."""
        scale = self.side / size
        cos, sin = np.cos(np.radians(self.angle)) * scale, np.sin(np.radians(self.angle)) * scale
        linear = np.array([[cos, -sin], [sin, cos]])
        shift = np.asarray(self.center) - linear @ np.array([size / 2.0, size / 2.0])
        return np.hstack([linear, shift[:, None]])

    def to_dict(self) -> dict[str, Any]:
        return {"center": [round(self.center[0], 1), round(self.center[1], 1)], "side": round(self.side, 1),
                "angle": round(self.angle, 2)}


@dataclass(frozen=True)
class ExplainedFace:
    """A face, the explanation of its emotion and where its crop lies in the image."""

    face: Face
    explanation: Explanation
    region: CropRegion

    def to_dict(self) -> dict[str, Any]:
        """The face's :meth:`~emolens.pipeline.results.Face.to_dict` plus ``explanation``: label, probability,
        grid (rows top to bottom over the crop) and region (centre, side and angle of the crop in the image)."""
        return {**self.face.to_dict(), "explanation": {**self.explanation.to_dict(), "region": self.region.to_dict()}}


def overlay_explanations(image: np.ndarray, explained: Sequence[ExplainedFace], strength: float = 0.6) -> np.ndarray:
    """A copy of a BGR image with each face's grid drawn over its crop as a heat map (red: hiding it lowers the
    explained emotion most; clear where hiding changes nothing or raises it)."""
    out = image.astype(np.float32)
    height, width = image.shape[:2]
    for item in explained:
        grid = np.clip(item.explanation.grid, 0, None)
        weight = cv2.resize((grid / max(float(grid.max()), 1e-6)).astype(np.float32), (HEAT_SIDE, HEAT_SIDE),
                            interpolation=cv2.INTER_LINEAR)
        colours = cv2.applyColorMap(np.uint8(255 * weight), cv2.COLORMAP_JET).astype(np.float32)
        matrix = item.region.to_image(HEAT_SIDE)
        colours = cv2.warpAffine(colours, matrix, (width, height), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(weight * strength, matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        out = out * (1 - alpha) + colours * alpha
    return np.clip(out, 0, 255).astype(np.uint8)
