"""The emotion timeline of a video as a PNG chart (matplotlib without pyplot: no GUI backend needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emolens.labels import label_colours


def timeline_figure(times: Sequence[float], scores: np.ndarray, labels: Sequence[str]) -> Figure:
    """A chart of ``scores`` (T, C): mean probability of each label over the faces in each analysed frame (NaN
    where a frame had no face) against time in seconds, each label in its colour (all visible on the white
    background: see :data:`emolens.labels.EMOTION_COLOURS`)."""
    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for i, (label, colour) in enumerate(label_colours(labels).items()):
        axes.plot(times, scores[:, i], label=label, color=colour, linewidth=1.5)
    axes.set(xlabel="time (s)", ylabel="mean probability over faces", ylim=(0, 1), title="Emotions over time")
    axes.legend(loc="upper right", ncol=len(labels), fontsize="small")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_timeline(times: Sequence[float], scores: np.ndarray, labels: Sequence[str], path: Path) -> None:
    """Save :func:`timeline_figure` as a PNG."""
    timeline_figure(times, scores, labels).savefig(path)
