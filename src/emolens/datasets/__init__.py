"""Dataset loaders: folder-per-class trees, the FER2013 CSV, and FER2013 with FER+ votes.

:func:`load_dataset` picks the loader from what ``source`` is.
"""

from __future__ import annotations

from pathlib import Path

from emolens.datasets.base import DatasetError, FaceDataset
from emolens.datasets.fer2013_csv import load_fer2013_csv
from emolens.datasets.ferplus import VOTE_MODES, is_ferplus_folder, load_ferplus_csv, load_ferplus_folder
from emolens.datasets.folder import find_split, has_splits, load_folder
from emolens.datasets.options import LABEL_MODES, LabelMode, canonical_split, check_choice

__all__ = ["DatasetError", "FaceDataset", "LabelMode", "load_dataset", "load_folder", "load_fer2013_csv",
           "load_ferplus_folder", "load_ferplus_csv", "dataset_has_split"]


def load_dataset(source: str | Path, split: str | None = None, label_mode: LabelMode = "fer2013",
                 label_names: tuple[str, ...] | None = None) -> FaceDataset:
    """Load labelled faces from ``source``.

    Args:
        source: a FER+ reference folder (``labels.csv`` with votes), a FER2013 CSV (a ``fer2013new.csv``
            beside it adds FER+ votes), or a folder-per-class tree, with or without split folders.
        split: ``train``, ``val`` or ``test``, or another name of one (``publictest``, ``validation``...; see
            :mod:`emolens.datasets.options`); None takes all of a CSV, or the folder itself. A tree without
            split folders is split 80% train, 10% val, 10% test, stratified by class with a fixed seed (0), the
            same split for training, calibration and evaluation (:mod:`emolens.datasets.splits`).
        label_mode: for FER+ sources, ``fer2013`` (the original labels), ``majority`` or ``soft`` (FER+ votes);
            a FER2013 CSV without FER+ votes beside it only has ``fer2013``. Folder trees have one label per
            image and no votes, so it does not apply to them.
        label_names: fixed class order for folder trees (others are skipped).

    Raises :class:`~emolens.errors.ConfigError` for an unknown split or label mode, :class:`DatasetError` for
    data that cannot be read.
    """
    check_choice("label_mode", label_mode, LABEL_MODES)
    canonical = None if split is None else canonical_split(split)
    source = Path(source)
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise DatasetError(f"{source}: expected a FER2013 CSV or a folder of images")
        if label_mode not in VOTE_MODES:
            return load_fer2013_csv(source, canonical)
        ferplus_csv = source.with_name("fer2013new.csv")
        if not ferplus_csv.is_file():
            raise DatasetError(f"{source}: label_mode {label_mode!r} needs FER+ votes, but there is no "
                               f"{ferplus_csv.name} beside it (label_mode 'fer2013' reads the CSV's own labels)")
        return load_ferplus_csv(source, ferplus_csv, canonical, label_mode=label_mode)
    if canonical is not None and is_ferplus_folder(source) and label_mode in VOTE_MODES:
        return load_ferplus_folder(source, canonical, label_mode=label_mode)
    return load_folder(source, canonical, label_names)


def dataset_has_split(source: str | Path, split: str) -> bool:
    """Whether ``source`` holds its own ``split``: CSVs, the FER+ folder and trees without split folders (their
    stratified split, :mod:`emolens.datasets.splits`) hold all three; a tree with split folders, those it has."""
    source = Path(source)
    if source.is_file() or is_ferplus_folder(source) or (source.is_dir() and not has_splits(source)):
        return True
    return source.is_dir() and find_split(source, canonical_split(split)) is not None
