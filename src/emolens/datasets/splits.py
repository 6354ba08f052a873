"""The train/val/test split of a folder-per-class tree that has no split folders of its own.

Training, calibration, ``emolens evaluate`` and the notebook all read such a tree through
:func:`emolens.datasets.load_dataset`, so they all see this one split: 80% train, 10% val, 10% test, stratified by
class folder (each split keeps the tree's class proportions) with scikit-learn's ``train_test_split`` and a fixed
seed, over the image files in sorted order. The same files always land in the same split, whatever labels a
model asks for, so a model is never tested on faces it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from emolens.datasets.base import DatasetError
from emolens.datasets.options import Split

PLAIN_SPLIT: dict[Split, float] = {"train": 0.8, "val": 0.1, "test": 0.1}
"""Share of a split-less tree's images in each split (per class, up to rounding)."""
PLAIN_SPLIT_SEED = 0
"""The ``random_state`` of the split: fixed, so every run and every command sees the same split."""


def plain_split(classes: Sequence[str], split: Split, where: str = "data") -> np.ndarray:
    """Sorted indices of the items in ``split``, given each item's class (items in a fixed order).

    Raises :class:`DatasetError` when a class is too small to appear in every split.
    """
    y = np.asarray(classes)
    everything = np.arange(len(y))
    sizes = {name: round(share * len(y)) for name, share in PLAIN_SPLIT.items()}  # counts: no float ratio to round
    try:
        rest, test = train_test_split(everything, test_size=sizes["test"], stratify=y, random_state=PLAIN_SPLIT_SEED)
        train, val = train_test_split(rest, test_size=sizes["val"], stratify=y[rest], random_state=PLAIN_SPLIT_SEED)
    except ValueError as exc:
        raise DatasetError(f"{where}: too few images per class for a stratified 80/10/10 train/val/test split "
                           f"(about 10 per class at least; or make train/ val/ test/ folders): {exc}") from None
    return np.sort({"train": train, "val": val, "test": test}[split])
