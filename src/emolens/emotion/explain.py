"""Why this emotion? Occlusion sensitivity, computed on ONNX Runtime (no torch, any emolens model).

The face crop, at the model's input size, is cut into ``cells`` x ``cells`` cells. A grey patch of
``patch_cells`` x ``patch_cells`` cells slides over it one cell at a time; every occluded copy and the original go
through the model in one batch, and the drop of the explained class's probability is each patch's effect. A
cell's value is the mean effect of the patches that cover it, so the map is as fine as the cells while each
patch hides enough of the face (two fifths of its side by default) to matter. With the defaults that is 16
occluded copies per face: ``benchmarks/explain.py`` prints the cost per face. A finer 6x6 grid (25 copies) kept
about the same deletion margin (0.235 against 0.229 on 240 privatetest faces) for about 1.5 times the time
(``benchmarks/explain.py --cells 6``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from emolens.emotion.preprocessing import normalize
from emolens.errors import ConfigError

if TYPE_CHECKING:
    from emolens.emotion.classifier import EmotionClassifier

CELLS = 5
PATCH_CELLS = 2
GREY = 128


@dataclass(frozen=True)
class Explanation:
    """What made the model say ``label`` for one face crop.

    Attributes:
        label: the explained emotion.
        probability: its probability on the whole crop (no test-time augmentation).
        grid: ``(cells, cells)`` float array over the crop, row 0 at the top: how much the probability of
            ``label`` drops, on average, when a grey patch hides that cell and its neighbours. Negative where
            hiding a cell makes the model surer.
    """

    label: str
    probability: float
    grid: np.ndarray

    def to_dict(self) -> dict[str, object]:
        """``{"label", "probability", "grid": [[...], ...]}``, rounded for output."""
        return {"label": self.label, "probability": round(self.probability, 5),
                "grid": np.round(self.grid.astype(np.float64), 4).tolist()}


def cell_edges(size: int, cells: int) -> np.ndarray:
    """Pixel boundaries of ``cells`` equal cells along a side of ``size`` pixels."""
    return np.round(np.linspace(0, size, cells + 1)).astype(int)


def occlusion_maps(classifier: EmotionClassifier, crops: Sequence[np.ndarray],
                   targets: Optional[Sequence[int]] = None, cells: int = CELLS, patch_cells: int = PATCH_CELLS,
                   class_balance: Optional[float] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occlusion maps of ``crops`` (uint8, grey or BGR, any size), all positions of all crops in one run.

    Args:
        targets: class index to explain per crop; default: the class the model predicts on the whole crop.
        class_balance: whose calibration scores the crops (None: the classifier's).

    Returns ``(maps, targets, probabilities)``: maps ``(N, cells, cells)`` as in :attr:`Explanation.grid`,
    the explained class indices ``(N,)`` and the class probabilities of the whole crops ``(N, C)``.
    """
    if not 1 <= patch_cells <= cells:
        raise ConfigError(f"patch_cells must be between 1 and cells ({cells}), not {patch_cells}")
    prep = classifier.preprocessing
    n, size = len(crops), prep.input_size
    if n == 0:
        return np.zeros((0, cells, cells), np.float32), np.zeros(0, np.int64), np.zeros((0, len(classifier.labels)))
    images = np.stack([prep.resize(c) for c in crops])
    edges = cell_edges(size, cells)
    steps = cells - patch_cells + 1
    batch = np.repeat(images[:, None], steps * steps + 1, axis=1)  # copy 0 is the whole crop
    for k in range(steps * steps):
        r, c = divmod(k, steps)
        batch[:, k + 1, edges[r]:edges[r + patch_cells], edges[c]:edges[c + patch_cells]] = GREY
    probs = classifier.predict_inputs(normalize(batch.reshape(-1, *images.shape[1:]), prep),
                                      class_balance=class_balance)
    probs = probs.reshape(n, steps * steps + 1, -1)
    target = probs[:, 0].argmax(axis=1) if targets is None else np.asarray(targets, dtype=np.int64)
    explained = probs[np.arange(n), :, target]  # (N, 1 + positions)
    drops = (explained[:, :1] - explained[:, 1:]).reshape(n, steps, steps)
    total = np.zeros((n, cells, cells), np.float32)
    count = np.zeros((cells, cells), np.float32)
    for r in range(patch_cells):
        for c in range(patch_cells):
            total[:, r:r + steps, c:c + steps] += drops
            count[r:r + steps, c:c + steps] += 1
    return total / count, target, probs[:, 0]


def explain_crops(classifier: EmotionClassifier, crops: Sequence[np.ndarray],
                  labels: Optional[Sequence[str]] = None, cells: int = CELLS, patch_cells: int = PATCH_CELLS,
                  class_balance: Optional[float] = None) -> list[Explanation]:
    """One :class:`Explanation` per crop, of ``labels`` (one per crop) or else of each crop's predicted class."""
    targets = None if labels is None else [classifier.labels.index(label) for label in labels]
    maps, target, probs = occlusion_maps(classifier, crops, targets, cells, patch_cells, class_balance)
    return [Explanation(classifier.labels[t], float(p[t]), m) for m, t, p in zip(maps, target, probs, strict=True)]

