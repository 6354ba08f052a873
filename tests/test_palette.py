"""The label colours (emolens.labels, used by annotated images, plots and the web pages): every colour visible on
white and under black text, and colours that stay apart in a custom label set. Contrast is WCAG 2.1's ratio,
distance CIEDE2000, both computed by coloraide."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from coloraide import Color
from matplotlib.colors import to_hex

from emolens.labels import EMOTION_COLOURS, FER2013_LABELS, SPARE_COLOURS, label_colours
from emolens.pipeline.plot import timeline_figure

CUSTOM_LABELS = ("amused", "angry", "bored", "disgust", "fear", "happy", "neutral", "sad", "shocked", "surprise")
"""A custom label set: the FER2013 emotions with three of its own (the old palette gave "shocked" nearly the
colour of "fear": 11.8 apart)."""

MIN_DISTANCE = 15
"""CIEDE2000; about 2 is a just-noticeable difference side by side, 10 already reads as another colour at a glance."""


def _nearest(colours: dict[str, str]) -> tuple[float, str, str]:
    return min((Color(colours[a]).delta_e(colours[b], method="2000"), a, b) for a, b in combinations(colours, 2))


def test_every_colour_shows_on_white_and_under_black_text() -> None:
    for colour in (*EMOTION_COLOURS.values(), *SPARE_COLOURS):
        assert Color(colour).contrast("white") >= 3, colour  # lines on a plot (WCAG: graphics 3:1)
        assert Color(colour).contrast("black") >= 4.5, colour  # black label text on it (WCAG: text 4.5:1)


def test_colours_of_a_custom_label_set_stay_apart() -> None:
    colours = label_colours(CUSTOM_LABELS)
    assert len(set(colours.values())) == len(CUSTOM_LABELS)
    assert _nearest(colours)[0] >= MIN_DISTANCE, _nearest(colours)
    assert colours["fear"] == EMOTION_COLOURS["fear"] and colours["amused"] == SPARE_COLOURS[0]


def test_any_set_with_up_to_eight_other_labels_stays_apart() -> None:
    everything = {**EMOTION_COLOURS, **{f"spare{i}": c for i, c in enumerate(SPARE_COLOURS)}}
    assert _nearest(everything)[0] >= MIN_DISTANCE, _nearest(everything)


def test_ferplus_names_get_the_emotions_colours() -> None:
    colours = label_colours(("Happiness", "sadness", "anger", "contempt", "surprise"))
    assert list(colours.values()) == [EMOTION_COLOURS[e] for e in ("happy", "sad", "angry", "contempt", "surprise")]


def test_every_line_of_the_video_plot_stands_out_from_its_background() -> None:
    times = np.arange(5) / 5
    figure = timeline_figure(times, np.full((5, len(FER2013_LABELS)), 1 / len(FER2013_LABELS)), FER2013_LABELS)
    axes = figure.axes[0]
    background = to_hex(axes.get_facecolor())
    lines = {line.get_label(): to_hex(line.get_color()) for line in axes.get_lines()}
    assert set(lines) == set(FER2013_LABELS)
    for label, colour in lines.items():
        assert Color(colour).contrast(background) >= 3, (label, colour, background)
