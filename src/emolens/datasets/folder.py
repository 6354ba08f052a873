"""Folder-per-class datasets: ``DIR/<label>/*.png|jpg``, optionally split into ``train/ val/ test/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emolens.datasets.base import DatasetError, FaceDataset, read_image
from emolens.datasets.options import SPLIT_ALIASES, Split
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


def load_folder(root: str | Path, split: Split | None = None, label_names: tuple[str, ...] | None = None) -> FaceDataset:
    """Load ``root/<label>/*`` (or ``root/<split>/<label>/*`` when ``split`` is given).

    ``label_names`` fixes the class order (e.g. a model's labels); images of other classes are skipped and
    counted in ``skipped``. Without it, the classes are the sub-folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such data folder")
    folder = root
    if split is not None:
        found = find_split(root, split)
        if found is None:
            raise DatasetError(f"{root}: no '{split}' split folder (looked for {', '.join(SPLIT_ALIASES[split])})")
        folder = found
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{folder}: no class folders (expected {folder}/<label>/<image files>)")
    names = canonical_order([d.name for d in class_dirs]) if label_names is None else tuple(label_names)
    index = {n.lower(): i for i, n in enumerate(names)}
    images: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    skipped: dict[str, int] = {}
    for class_dir in class_dirs:
        files = list_images(class_dir)
        if not files:
            raise DatasetError(f"{class_dir}: class folder holds no images")
        if class_dir.name.lower() not in index:
            skipped[class_dir.name] = len(files)
            continue
        for path in files:
            images.append(read_image(path))
            labels.append(index[class_dir.name.lower()])
            sources.append(str(path))
    return FaceDataset(images, np.asarray(labels, np.int64), names, sources, skipped=skipped)
