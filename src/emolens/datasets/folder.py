"""Folder-per-class datasets: ``DIR/<label>/*.png|jpg``, optionally split into ``train/ val/ test/`` (a tree
without split folders is split by :mod:`emolens.datasets.splits`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from emolens.datasets.base import DatasetError, FaceDataset, read_image
from emolens.datasets.options import SPLIT_ALIASES, Split
from emolens.datasets.splits import plain_split
from emolens.images import IMAGE_SUFFIXES
from emolens.labels import canonical_order


def find_split(root: Path, split: Split) -> Path | None:
    """The sub-folder of ``root`` that holds ``split`` (``val``, ``Validation``, ``PublicTest``...), if any."""
    names = SPLIT_ALIASES[split]
    found = sorted(d for d in root.iterdir() if d.is_dir() and d.name.lower() in names) if root.is_dir() else []
    return min(found, key=lambda d: names.index(d.name.lower())) if found else None


def has_splits(root: Path) -> bool:
    return find_split(root, "train") is not None


def list_images(folder: Path) -> list[Path]:
    """Image files below ``folder`` (recursively), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_folder(root: str | Path, split: Split | None = None,
                label_names: tuple[str, ...] | None = None) -> FaceDataset:
    """Load ``root/<label>/*``, or its ``split``: ``root/<split>/<label>/*`` when the tree has split folders, else
    the tree's own stratified split (80% train, 10% val, 10% test, seed 0: :mod:`emolens.datasets.splits`).

    ``label_names`` fixes the class order (e.g. a model's labels); images of other classes are skipped and
    counted in ``skipped``. Without it, the classes are the sub-folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such data folder")
    folder = root
    if split is not None and has_splits(root):
        found = find_split(root, split)
        if found is None:
            raise DatasetError(f"{root}: no '{split}' split folder (looked for {', '.join(SPLIT_ALIASES[split])})")
        folder = found
    files = class_files(folder)
    names = canonical_order(list(dict.fromkeys(name for name, _ in files))) if label_names is None \
        else tuple(label_names)
    if split is not None and folder is root:
        files = [files[i] for i in plain_split([name.lower() for name, _ in files], split, str(root))]
    index = {n.lower(): i for i, n in enumerate(names)}
    kept = [(index[name.lower()], path) for name, path in files if name.lower() in index]
    skipped = dict(Counter(name for name, _ in files if name.lower() not in index))
    return FaceDataset([read_image(path) for _, path in kept], np.asarray([i for i, _ in kept], np.int64), names,
                       [str(path) for _, path in kept], skipped=skipped)


def class_files(folder: Path) -> list[tuple[str, Path]]:
    """``(class folder name, image path)`` for every image of ``folder/<label>/``, in sorted order."""
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{folder}: no class folders (expected {folder}/<label>/<image files>)")
    files = []
    for class_dir in class_dirs:
        images = list_images(class_dir)
        if not images:
            raise DatasetError(f"{class_dir}: class folder holds no images")
        files += [(class_dir.name, path) for path in images]
    return files
