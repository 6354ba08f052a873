"""Controlled shifts of face crops that real photos bring and FER2013 lacks: sharper and softer detail, other
framings, rotation, JPEG, noise, lighting and partial occlusion. The robustness benchmark scores a model under
each one, and calibration chooses its class bias under them, so both see the same shifts."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Shift = Callable[[np.ndarray, int], np.ndarray]
"""A shift: (uint8 grey or BGR face crop, index of the crop) -> shifted uint8 crop (any size)."""


def _sharp(face: np.ndarray, _: int) -> np.ndarray:
    """A sharper, higher-resolution crop, as from a good camera: 3x bicubic upscale plus an unsharp mask."""
    big = cv2.resize(face, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    return cv2.addWeighted(big, 1.8, cv2.GaussianBlur(big, (0, 0), 2.0), -0.8, 0)


def _soft(face: np.ndarray, _: int) -> np.ndarray:
    return cv2.GaussianBlur(face, (0, 0), 1.2)


def _low_resolution(face: np.ndarray, _: int) -> np.ndarray:
    """A small face in a photo: half the resolution, scaled back up."""
    h, w = face.shape[:2]
    small = cv2.resize(face, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _reframe(face: np.ndarray, scale: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """The crop window scaled by ``scale`` (<1 tighter, >1 looser) and moved by (dx, dy) of its side."""
    h, w = face.shape[:2]
    matrix = np.array([[1 / scale, 0, (w - w / scale) / 2 - dx * w / scale],
                       [0, 1 / scale, (h - h / scale) / 2 - dy * h / scale]], np.float32)
    return cv2.warpAffine(face, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _rotate(face: np.ndarray, index: int) -> np.ndarray:
    """20 degrees, alternately clockwise and anticlockwise."""
    h, w = face.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 20.0 if index % 2 else -20.0, 1.0)
    return cv2.warpAffine(face, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _jpeg(face: np.ndarray, _: int) -> np.ndarray:
    _, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 20])
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    assert decoded is not None  # OpenCV decodes the JPEG it has just encoded
    return decoded


def _noise(face: np.ndarray, index: int) -> np.ndarray:
    noise = np.random.default_rng(index).normal(0, 12, face.shape)
    return np.clip(face + noise, 0, 255).astype(np.uint8)


def _gamma(g: float) -> Shift:
    table = np.clip(((np.arange(256) / 255.0) ** g) * 255 + 0.5, 0, 255).astype(np.uint8)
    return lambda face, _: cv2.LUT(face, table)


def _low_contrast(face: np.ndarray, _: int) -> np.ndarray:
    mean = float(face.mean())
    return np.clip((face.astype(np.float32) - mean) * 0.5 + mean, 0, 255).astype(np.uint8)


def _glasses(face: np.ndarray, _: int) -> np.ndarray:
    """Dark glasses: two dark lenses joined by a bridge over the eyes."""
    out = face.copy()
    h, w = face.shape[:2]
    for cx in (0.32, 0.68):
        cv2.ellipse(out, (round(cx * w), round(0.40 * h)), (round(0.15 * w), round(0.09 * h)), 0, 0, 360,
                    (25, 25, 25), -1)
    cv2.line(out, (round(0.45 * w), round(0.38 * h)), (round(0.55 * w), round(0.38 * h)), (25, 25, 25),
             max(1, w // 32))
    return out


def _hand(face: np.ndarray, index: int) -> np.ndarray:
    """A hand over one corner of the mouth: a bright, skin-toned blob on the lower face."""
    out = face.copy()
    h, w = face.shape[:2]
    cx = 0.30 if index % 2 else 0.70
    tone = int(np.clip(np.median(face) + 25, 0, 255))
    cv2.ellipse(out, (round(cx * w), round(0.80 * h)), (round(0.20 * w), round(0.16 * h)), 20, 0, 360,
                (tone, tone, tone), -1)
    return out


SHIFTS: dict[str, Shift] = {
    "sharper": _sharp,
    "softer": _soft,
    "low resolution": _low_resolution,
    "tighter 15%": lambda face, _: _reframe(face, 0.85),
    "looser 15%": lambda face, _: _reframe(face, 1.15),
    "off-centre 10%": lambda face, i: _reframe(face, 1.0, 0.1 if i % 2 else -0.1, 0.05),
    "rotated 20°": _rotate,
    "JPEG q20": _jpeg,
    "noise": _noise,
    "dark (gamma 1.8)": _gamma(1.8),
    "bright (gamma 0.55)": _gamma(0.55),
    "low contrast": _low_contrast,
    "glasses": _glasses,
    "hand over mouth": _hand,
}
"""Every shift, by name; each is deterministic for a given crop index."""


def shifted(faces: list[np.ndarray], name: str) -> list[np.ndarray]:
    """``faces`` under the shift called ``name`` (``clean`` leaves them as they are)."""
    if name == "clean":
        return faces
    shift = SHIFTS[name]
    return [shift(face, i) for i, face in enumerate(faces)]
