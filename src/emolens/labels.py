"""Emotion label sets known to emolens."""

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
