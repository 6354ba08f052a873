"""The in-memory dataset every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emolens.errors import DatasetError, InputError
from emolens.images import decode_image


@dataclass
class FaceDataset:
    """Labelled face images held in memory.

    Attributes:
        images: uint8 images, grey (HxW) or BGR (HxWx3); sizes may differ.
        label_ids: int64 (N,), hard label of each image, an index into ``label_names``.
        label_names: the class names, in model output order.
        sources: where each image came from (a path, or ``file.csv:line``).
        soft_labels: optional float32 (N, C) label distributions (e.g. FER+ votes), rows sum to 1.
        original_label_ids: optional int64 (N,), for FER+ sources the original FER2013 label of each face (the
            votes relabel the same faces), an index into ``label_names``.
    """

    images: list[np.ndarray]
    label_ids: np.ndarray
    label_names: tuple[str, ...]
    sources: list[str]
    soft_labels: np.ndarray | None = None
    original_label_ids: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.label_ids, minlength=len(self.label_names))

    def subset(self, indices: np.ndarray) -> FaceDataset:
        """A dataset holding only ``indices`` (in that order)."""
        return FaceDataset(
            images=[self.images[i] for i in indices],
            label_ids=self.label_ids[indices],
            label_names=self.label_names,
            sources=[self.sources[i] for i in indices],
            soft_labels=None if self.soft_labels is None else self.soft_labels[indices],
            original_label_ids=None if self.original_label_ids is None else self.original_label_ids[indices],
            skipped=dict(self.skipped),
        )


def read_image(path: Path) -> np.ndarray:
    """Read an image file as uint8 grey (HxW) or BGR, upright by its EXIF orientation, with the runtime's decoder
    (:mod:`emolens.images`); raises :class:`DatasetError` naming the file."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such image file")
    try:
        return decode_image(path.read_bytes(), str(path), keep_gray=True)
    except InputError as exc:
        raise DatasetError(str(exc)) from None
