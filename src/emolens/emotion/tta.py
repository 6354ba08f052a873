"""Test-time augmentation: the mirror image and two small shifts of each input, whose predictions are averaged."""

from __future__ import annotations

import numpy as np


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift a (N, C, H, W) batch by (dy, dx) pixels, repeating edge pixels into the gap."""
    n, c, h, w = x.shape
    pad = max(abs(dy), abs(dx))
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    return padded[:, :, pad - dy:pad - dy + h, pad - dx:pad - dx + w]


def tta_views(x: np.ndarray) -> list[np.ndarray]:
    """Views averaged under TTA: the input, its mirror, and shifts of ~3% of the side diagonally both ways."""
    step = max(1, round(x.shape[2] * 0.03))
    return [x, x[:, :, :, ::-1], shift(x, step, step), shift(x, -step, -step)]
