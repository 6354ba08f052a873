"""Emotion label sets known to emolens, and the colour each label is drawn in."""

from collections.abc import Sequence
from itertools import cycle

FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven FER2013 classes, in FER2013's own index order (0=angry ... 6=neutral)."""

FERPLUS_VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
"""FER+ vote columns, in FER+ order."""

FERPLUS_TO_FER2013: dict[str, str] = {
    "neutral": "neutral",
    "happiness": "happy",
    "surprise": "surprise",
    "sadness": "sad",
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
}
"""FER+ emotion names mapped to FER2013 names; contempt, unknown and NF (not a face) have no FER2013 class."""


def canonical_order(names: list[str]) -> tuple[str, ...]:
    """Order a label set: FER2013 order when the names are all FER2013 classes, else alphabetical."""
    lowered = {n.lower() for n in names}
    if lowered <= set(FER2013_LABELS) and len(lowered) == len(names):
        return tuple(sorted(names, key=lambda n: FER2013_LABELS.index(n.lower())))
    return tuple(sorted(names))


EMOTION_COLOURS: dict[str, str] = {
    "angry": "#ef4444", "disgust": "#22c55e", "fear": "#a855f7", "happy": "#facc15", "sad": "#3b82f6",
    "surprise": "#fb923c", "neutral": "#cbd5e1", "contempt": "#b45309",
}
"""Colour of each well-known emotion, everywhere emolens draws (annotated images, charts, the web pages)."""

SPARE_COLOURS: tuple[str, ...] = ("#f472b6", "#2dd4bf", "#c084fc", "#a3e635", "#fda4af", "#93c5fd")
"""Colours given in turn to the labels of a model that are not well-known emotions (a custom label set)."""


def label_colours(labels: Sequence[str]) -> dict[str, str]:
    """A ``#rrggbb`` colour per label, in order: the emotion's own colour for the well-known emotions (any case),
    spare colours in turn for the others. The same label set always gets the same colours."""
    spare = cycle(SPARE_COLOURS)
    return {label: EMOTION_COLOURS.get(label.lower()) or next(spare) for label in labels}


def bgr(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` -> an OpenCV ``(b, g, r)`` tuple."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r
