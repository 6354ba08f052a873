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
    "angry": "#ef4444", "disgust": "#16a34a", "fear": "#a855f7", "happy": "#c08a00", "sad": "#3b82f6",
    "surprise": "#ea6a09", "neutral": "#7b8494", "contempt": "#db2777",
}
"""Colour of each well-known emotion, everywhere emolens draws (annotated images, plots, the web pages).

Every colour of the palette (these and the spares) is a mid-tone, with a relative luminance between 0.18 and 0.30:
at least 3:1 against white (lines on a plot; WCAG's contrast for graphics) and 4.5:1 against black (the black
text of an annotated image's labels), and no two are closer than 15 in CIEDE2000 (tests/test_palette.py)."""

SPARE_COLOURS: tuple[str, ...] = (
    "#299f9c", "#7a7a57", "#af868a", "#9c7352", "#8b991c", "#8d6c9a", "#1b83a3", "#fb3dcc",
)
"""Colours given in turn to the labels of a model that are not well-known emotions (a custom label set). Each
was chosen as the mid-tone farthest (CIEDE2000) from the emotions' colours and the spares before it, so that any
custom label set with up to eight other labels gets colours that stay apart; more labels reuse them in turn."""


def label_colours(labels: Sequence[str]) -> dict[str, str]:
    """A ``#rrggbb`` colour per label, in order: the emotion's own colour for the well-known emotions (any case,
    FER+ names too: ``happiness`` is ``happy``), spare colours in turn for the others. The same label set always
    gets the same colours."""
    spare = cycle(SPARE_COLOURS)
    known = [EMOTION_COLOURS.get(FERPLUS_TO_FER2013.get(label.lower(), label.lower())) for label in labels]
    return {label: colour or next(spare) for label, colour in zip(labels, known, strict=True)}


def bgr(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` -> an OpenCV ``(b, g, r)`` tuple."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r
