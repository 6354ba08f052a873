"""Does an explanation mean something? The deletion check: hiding the pixels an occlusion map calls most
important must lower the explained class's probability more than hiding as many pixels picked at random."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.explain import CELLS, GREY, PATCH_CELLS, occlusion_maps
from emolens.emotion.preprocessing import normalize


def top_mask(grid: np.ndarray, size: int, fraction: float) -> np.ndarray:
    """Boolean ``(size, size)`` mask of the ``fraction`` of pixels where ``grid``, smoothly upsampled, is highest."""
    upsampled = cv2.resize(grid.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    mask = np.zeros(size * size, bool)
    mask[np.argsort(-upsampled, axis=None, kind="stable")[:int(round(fraction * size * size))]] = True
    return mask.reshape(size, size)


def deletion_drops(classifier: EmotionClassifier, crops: Sequence[np.ndarray], fraction: float,
                   random_draws: int, rng: np.random.Generator, cells: int = CELLS,
                   patch_cells: int = PATCH_CELLS) -> np.ndarray:
    """``(N, 1 + random_draws)`` drops of each crop's predicted class: salient region first, then random ones."""
    maps, targets, probs = occlusion_maps(classifier, crops, cells=cells, patch_cells=patch_cells)
    prep = classifier.preprocessing
    size = prep.input_size
    images = np.stack([prep.resize(c) for c in crops])
    masks = [[top_mask(m, size, fraction)] + [top_mask(rng.random(m.shape), size, fraction)
                                             for _ in range(random_draws)] for m in maps]
    hidden = np.repeat(images[:, None], random_draws + 1, axis=1)
    hidden[np.asarray(masks)] = GREY
    occluded = classifier.predict_inputs(normalize(hidden.reshape(-1, *images.shape[1:]), prep))
    occluded = occluded.reshape(len(crops), random_draws + 1, -1)[np.arange(len(crops)), :, targets]
    return probs[np.arange(len(crops)), targets][:, None] - occluded


def deletion_check(classifier: EmotionClassifier, crops: Sequence[np.ndarray], fraction: float = 0.2,
                   random_draws: int = 2, seed: int = 0, batch_faces: int = 32, cells: int = CELLS,
                   patch_cells: int = PATCH_CELLS) -> dict[str, Any]:
    """Mean drop of the predicted class's probability when the most salient ``fraction`` of each crop is greyed
    out, and when a random region of the same area and shape statistics is (the top ``fraction`` of a random
    grid, upsampled the same way; ``random_draws`` per crop).

    Returns ``n``, ``fraction``, ``salient_drop``, ``random_drop`` and ``margin`` (their difference).
    """
    rng = np.random.default_rng(seed)
    drops = np.concatenate([deletion_drops(classifier, crops[i:i + batch_faces], fraction, random_draws, rng, cells,
                                           patch_cells) for i in range(0, len(crops), batch_faces)])
    salient, random = float(drops[:, 0].mean()), float(drops[:, 1:].mean())
    return {"n": len(crops), "fraction": fraction, "salient_drop": salient, "random_drop": random,
            "margin": salient - random}
