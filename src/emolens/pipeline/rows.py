"""The face row: one face as one flat row, the same columns in the same order in every table emolens writes
(``emolens analyze --csv``, ``emolens video --csv``, ``emolens batch``'s Parquet, the upload page's CSV).

Like supervision's ``csv_sink``: the face's own data, then its context (where it was seen)::

    source, frame, time_s, face, track_id, x, y, w, h, detection_score, emotion, <a column per label>, class_balance

- ``source``: the image or video file (the upload page: the file's name);
- ``frame``, ``time_s``: the video frame and its time in seconds (empty for an image);
- ``face``: the face's index among the faces found in its image or frame, from 0, in the analyzer's order;
- ``track_id``: the face's identity across the frames of a video (empty for an image);
- ``x, y, w, h``: its box in pixels; ``detection_score``: the detector's confidence;
- ``emotion``: the most probable label; then the probability of each label, in the model's order;
- ``class_balance``: the class balance that scored it (empty when the model has none).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from emolens.errors import ModelError
from emolens.pipeline.results import Face

LEADING_COLUMNS = ("source", "frame", "time_s", "face", "track_id", "x", "y", "w", "h", "detection_score", "emotion")
"""The columns before the labels'."""
TRAILING_COLUMNS = ("class_balance",)
"""The columns after the labels'."""
_CSV_FORMATS = {"time_s": ".3f", "detection_score": ".4f", "class_balance": "g"}
"""How a CSV cell writes a float of each column; a label's probability: ``.5f``."""


def face_columns(labels: Sequence[str]) -> list[str]:
    """The columns of a face row for a model with these labels.

    Raises:
        ModelError: a label has the name of another column.
    """
    clash = sorted(set(labels) & {*LEADING_COLUMNS, *TRAILING_COLUMNS})
    if clash:
        raise ModelError(f"the model's labels {clash} are names of face row columns; rename them")
    return [*LEADING_COLUMNS, *labels, *TRAILING_COLUMNS]


def labels_of(columns: Sequence[str]) -> list[str]:
    """The labels of a table with the face row's columns (and maybe more after them): those between ``emotion``
    and ``class_balance``."""
    return list(columns[columns.index("emotion") + 1:columns.index(TRAILING_COLUMNS[0])])


def face_row(face: Face, labels: Sequence[str], *, index: int, source: Optional[str] = None,
             frame: Optional[int] = None, time_s: Optional[float] = None,
             class_balance: Optional[float] = None) -> dict[str, Any]:
    """``face`` as a row, keyed by :func:`face_columns` in their order (``None``: no value), with its context:
    ``index`` among the faces of its image or frame, its ``source``, ``frame`` and ``time_s`` and the
    ``class_balance`` that scored it."""
    x, y, w, h = face.box
    return {"source": source, "frame": frame, "time_s": time_s, "face": index, "track_id": face.track_id,
            "x": x, "y": y, "w": w, "h": h, "detection_score": face.detection_score, "emotion": face.emotion,
            **{label: face.scores[label] for label in labels}, "class_balance": class_balance}


def csv_values(row: Mapping[str, Any]) -> list[Any]:
    """A :func:`face_row` as CSV values in column order: ``None`` empty, floats written with a fixed number of
    decimals (probabilities 5, detection scores 4, times 3). Pass them through
    :func:`~emolens.csvcells.csv_row`."""
    return ["" if value is None else format(value, _CSV_FORMATS.get(name, ".5f")) if _is_float(value) else value
            for name, value in row.items()]


def _is_float(value: Any) -> bool:
    """A real number that is not an integer: a Python float or a NumPy one (the detector's scores)."""
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
