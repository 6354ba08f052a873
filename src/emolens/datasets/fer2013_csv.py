"""The original FER2013 CSV (``emotion,pixels,Usage``), optionally joined with FER+ votes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from emolens.datasets.base import DatasetError, FaceDataset
from emolens.datasets.options import FER2013_USAGE, Split
from emolens.labels import FER2013_LABELS


def parse_pixels(text: str, where: str) -> np.ndarray:
    """A FER2013 ``pixels`` field (space-separated grey values of a square image) -> uint8 HxW."""
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError:
        raise DatasetError(f"{where}: pixels must be space-separated integers") from None
    side = int(round(np.sqrt(values.size)))
    if values.size == 0 or side * side != values.size:
        raise DatasetError(f"{where}: {values.size} pixel values do not form a square image")
    if values.min() < 0 or values.max() > 255:
        raise DatasetError(f"{where}: pixel values must lie in 0..255")
    return values.astype(np.uint8).reshape(side, side)


def parse_emotion(text: str | None, where: str) -> int:
    """A FER2013 ``emotion`` field -> its class index 0..6 (into ``FER2013_LABELS``)."""
    try:
        emotion = int(text)  # type: ignore[arg-type]  # None (a missing field) fails as not an integer
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: emotion must be an integer 0..6, got {text!r}") from None
    if not 0 <= emotion < len(FER2013_LABELS):
        raise DatasetError(f"{where}: emotion must be 0..6, got {emotion}")
    return emotion


def read_fer2013_rows(path: Path) -> list[tuple[int, np.ndarray, str, str]]:
    """All rows of a FER2013 CSV as ``(emotion, image, usage, where)``, validated."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such CSV file")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))} "
                               "(expected emotion,pixels,Usage)")
        rows = []
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            emotion = parse_emotion(row["emotion"], where)
            if row["pixels"] is None:
                raise DatasetError(f"{where}: row has too few fields")
            rows.append((emotion, parse_pixels(row["pixels"], where), (row.get("Usage") or "").strip(), where))
    if not rows:
        raise DatasetError(f"{path}: CSV has no data rows")
    return rows


def load_fer2013_csv(path: str | Path, split: Split | None = None) -> FaceDataset:
    """Load FER2013 from its CSV; ``split`` is ``train``, ``val`` (PublicTest) or ``test`` (PrivateTest)."""
    path = Path(path)
    rows = read_fer2013_rows(path)
    if split is not None:
        usage = FER2013_USAGE[split]
        rows = [r for r in rows if r[2] == usage]
        if not rows:
            raise DatasetError(f"{path}: no rows with Usage={usage}")
    return FaceDataset(
        images=[r[1] for r in rows],
        label_ids=np.array([r[0] for r in rows], np.int64),
        label_names=FER2013_LABELS,
        sources=[r[3] for r in rows],
    )
