"""Dataset loaders: folder-per-class trees, the FER2013 CSV, and FER2013 with FER+ votes.

:func:`load_dataset` picks the loader from what ``source`` is.
"""

from __future__ import annotations

from pathlib import Path

from emolens.datasets.base import DatasetError, FaceDataset
from emolens.datasets.fer2013_csv import load_fer2013_csv
from emolens.datasets.ferplus import LabelMode, is_ferplus_folder, load_ferplus_csv, load_ferplus_folder
from emolens.datasets.folder import find_split, has_splits, load_folder

__all__ = ["DatasetError", "FaceDataset", "load_dataset", "load_folder", "load_fer2013_csv",
           "load_ferplus_folder", "load_ferplus_csv", "dataset_has_split"]


def load_dataset(source: str | Path, split: str | None = None, labels: str = "fer2013",
                 label_names: tuple[str, ...] | None = None) -> FaceDataset:
    """Load labelled faces from ``source``.

    Args:
        source: a FER+ reference folder (``labels.csv`` with votes), a FER2013 CSV (a ``fer2013new.csv``
            beside it adds FER+ votes), or a folder-per-class tree, with or without split folders.
        split: ``train``, ``val`` or ``test``; None takes all of a CSV, or the folder itself.
        labels: for FER+ sources, ``majority``, ``soft`` or ``fer2013`` (the original labels).
        label_names: fixed class order for folder trees (others are skipped).
    """
    source = Path(source)
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise DatasetError(f"{source}: expected a FER2013 CSV or a folder of images")
        ferplus_csv = source.with_name("fer2013new.csv")
        if labels in ("majority", "soft") and ferplus_csv.is_file():
            return load_ferplus_csv(source, ferplus_csv, split, mode=labels)  # type: ignore[arg-type]
        return load_fer2013_csv(source, split)
    if is_ferplus_folder(source) and split is not None:
        if labels in ("majority", "soft"):
            return load_ferplus_folder(source, split, mode=labels)  # type: ignore[arg-type]
    if split is not None and has_splits(source):
        return load_folder(source, split, label_names)
    if split not in (None, "train") and not has_splits(source):
        raise DatasetError(f"{source}: has no split folders, so it has no '{split}' split")
    return load_folder(source, None, label_names)


def dataset_has_split(source: str | Path, split: str) -> bool:
    """Whether ``source`` holds its own ``split`` (CSVs and split folders do)."""
    source = Path(source)
    if source.is_file() or is_ferplus_folder(source):
        return True
    return source.is_dir() and find_split(source, split) is not None
