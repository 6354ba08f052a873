"""FER2013 images with FER+ crowd votes (Barsoum et al. 2016), as majority or soft labels.

Two layouts are read:
- the reference folder (``labels.csv`` with ``path`` and ``fp_*`` vote columns, PNGs beside it), as in
  ``../shared/data/fer2013``;
- the original ``fer2013.csv`` with FER+ ``fer2013new.csv`` next to it (same row order).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from emolens.datasets.base import DatasetError, FaceDataset, read_image
from emolens.datasets.fer2013_csv import parse_emotion, read_fer2013_rows
from emolens.datasets.options import FER2013_USAGE, LabelMode, Split, check_choice
from emolens.labels import FER2013_LABELS, FERPLUS_TO_FER2013, FERPLUS_VOTE_COLUMNS

VOTE_MODES: tuple[LabelMode, ...] = ("majority", "soft")
"""The label modes that read FER+ votes."""

FERPLUS_EXCLUDED = "ferplus_excluded"
"""Key in :attr:`FaceDataset.skipped` counting images the FER+ protocol leaves out (ties, non-emotions)."""

# Column of each FER2013 class in the FER+ vote vector.
_EMOTION_COLUMNS = np.array([FERPLUS_VOTE_COLUMNS.index(k) for k in sorted(
    FERPLUS_TO_FER2013, key=lambda k: FER2013_LABELS.index(FERPLUS_TO_FER2013[k]))])


def votes_to_targets(votes: np.ndarray, label_mode: LabelMode) -> tuple[np.ndarray, np.ndarray]:
    """FER+ votes (N, 10) -> (hard labels (N,), soft labels (N, 7)) in FER2013 class order.

    ``majority``: the label is the most-voted of all 10 columns; rows with a tie for the top, or whose top is
    contempt, unknown or not-a-face, get label -1 (to be dropped). This is the usual FER+ evaluation protocol.
    ``soft``: the label distribution is the 7 emotion votes normalised; rows with no emotion votes, or whose
    top vote is unknown or not-a-face, get -1. The hard label is the most-voted emotion.
    """
    check_choice("label_mode", label_mode, VOTE_MODES)
    votes = np.asarray(votes, dtype=np.float64)
    emotion_votes = votes[:, _EMOTION_COLUMNS]
    totals = emotion_votes.sum(axis=1, keepdims=True)
    soft = np.divide(emotion_votes, totals, out=np.zeros_like(emotion_votes), where=totals > 0).astype(np.float32)
    top = votes.argmax(axis=1)
    non_emotion = {FERPLUS_VOTE_COLUMNS.index(c) for c in ("unknown", "NF")}
    bad_top = np.isin(top, list(non_emotion))
    if label_mode == "majority":
        tied = (votes == votes.max(axis=1, keepdims=True)).sum(axis=1) > 1
        bad = tied | bad_top | (top == FERPLUS_VOTE_COLUMNS.index("contempt"))
        column_to_class = {int(col): cls for cls, col in enumerate(_EMOTION_COLUMNS)}
        labels = np.array([column_to_class.get(int(t), -1) for t in top], np.int64)
    else:
        bad = bad_top | (totals[:, 0] == 0)
        labels = emotion_votes.argmax(axis=1).astype(np.int64)
    labels[bad] = -1
    return labels, soft


def _from_parts(images: list[np.ndarray], votes: np.ndarray, original: np.ndarray, sources: list[str],
                label_mode: LabelMode) -> FaceDataset:
    labels, soft = votes_to_targets(votes, label_mode)
    keep = np.flatnonzero(labels >= 0)
    return FaceDataset(
        images=[images[i] for i in keep],
        label_ids=labels[keep],
        label_names=FER2013_LABELS,
        sources=[sources[i] for i in keep],
        soft_labels=soft[keep] if label_mode == "soft" else None,
        original_label_ids=np.asarray(original, np.int64)[keep],
        skipped={FERPLUS_EXCLUDED: int(len(labels) - len(keep))},
    )


def is_ferplus_folder(root: Path) -> bool:
    """True for a folder laid out like ``../shared/data/fer2013`` (``labels.csv`` with ``fp_*`` votes)."""
    path = root / "labels.csv"
    if not path.is_file():
        return False
    with path.open(encoding="utf-8") as file:
        header = file.readline()
    return "fp_neutral" in header and "path" in header


def load_ferplus_folder(root: str | Path, split: Split, label_mode: LabelMode = "majority") -> FaceDataset:
    """Load one split (``train``, ``val`` = PublicTest, ``test`` = PrivateTest) of the reference folder."""
    root = Path(root)
    usage = FER2013_USAGE[split]
    labels_csv = root / "labels.csv"
    if not labels_csv.is_file():
        raise DatasetError(f"{labels_csv}: no such file (expected a FER+ folder with labels.csv)")
    images, votes, original, sources = [], [], [], []
    with labels_csv.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row.get("usage") != usage:
                continue
            try:
                votes.append([int(row[f"fp_{c}"]) for c in FERPLUS_VOTE_COLUMNS])
            except (KeyError, TypeError, ValueError):
                raise DatasetError(f"{labels_csv}:{line}: bad or missing FER+ vote columns") from None
            original.append(parse_emotion(row.get("emotion"), f"{labels_csv}:{line}"))
            path = root / row["path"]
            images.append(read_image(path))
            sources.append(str(path))
    if not images:
        raise DatasetError(f"{labels_csv}: no rows with usage={usage}")
    return _from_parts(images, np.array(votes), np.array(original), sources, label_mode)


def load_ferplus_csv(fer2013_csv: str | Path, ferplus_csv: str | Path, split: Split | None = None,
                     label_mode: LabelMode = "majority") -> FaceDataset:
    """Join ``fer2013.csv`` with FER+ ``fer2013new.csv`` (same row order) and keep ``split``."""
    fer2013_csv, ferplus_csv = Path(fer2013_csv), Path(ferplus_csv)
    rows = read_fer2013_rows(fer2013_csv)
    if not ferplus_csv.is_file():
        raise DatasetError(f"{ferplus_csv}: no such FER+ CSV")
    with ferplus_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        votes = []
        for line, row in enumerate(reader, start=2):
            try:
                votes.append([int(row[c]) for c in FERPLUS_VOTE_COLUMNS])
            except (KeyError, TypeError, ValueError):
                raise DatasetError(f"{ferplus_csv}:{line}: bad or missing vote columns") from None
    if len(votes) != len(rows):
        raise DatasetError(f"{ferplus_csv}: {len(votes)} rows, but {fer2013_csv} has {len(rows)}; "
                           "they must match row for row")
    keep = [i for i, r in enumerate(rows) if split is None or r[2] == FER2013_USAGE[split]]
    return _from_parts([rows[i][1] for i in keep], np.array(votes)[keep], np.array([rows[i][0] for i in keep]),
                       [rows[i][3] for i in keep], label_mode)
