"""Calibration of a model's scores: expected calibration error, a temperature fitted on validation data, and a
per-class logit bias chosen under the robustness shifts so that no class wins by default."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from emolens.emotion.metadata import Calibration
from emolens.evaluation.robustness import prediction_ratios


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(gap)


def fit_temperature(probs: np.ndarray, y_true: np.ndarray, logit_bias: Sequence[float] = ()) -> float:
    """The temperature that minimises the negative log-likelihood of ``y_true`` (bias applied first)."""

    def nll(log_t: float) -> float:
        p = Calibration(float(np.exp(log_t)), tuple(logit_bias)).apply(probs)
        return float(-np.log(np.clip(p[np.arange(len(y_true)), y_true], 1e-12, None)).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-2.0, 2.0), method="bounded").x))


def fit_logit_bias(probs_by_condition: Sequence[np.ndarray], y_true: np.ndarray, class_balance: float = 0.0,
                   max_ratio: float | None = None, limit: float = 1.0, step: float = 0.05,
                   sweeps: int = 3) -> tuple[float, ...]:
    """Per-class logit bias that maximises the mean accuracy over ``probs_by_condition`` (e.g. the clean crops
    and each robustness shift), by coordinate ascent on a grid in [-limit, limit] with the first class held at
    0; returned centred on 0 (only differences matter), so a negative value pushes a class down.

    ``class_balance``: each face weighs ``1 / n_class ** class_balance``, so 0 maximises accuracy under the
    data's own class frequencies and 1 the mean per-class recall, the accuracy if every class were equally common
    (as in posed-expression sets); values between lean part of the way.

    ``max_ratio``: no class may be predicted more than this many times as often as it occurs, under any
    condition (a bias that would is refused; one the model already exceeds without bias may only shrink)."""
    logs = [np.log(np.clip(p, 1e-12, None)) for p in probs_by_condition]
    classes = logs[0].shape[1]
    weights = np.bincount(y_true, minlength=classes).astype(float)[y_true] ** -class_balance
    weights /= weights.sum()
    bias = np.zeros(classes)
    grid = np.arange(-limit, limit + step / 2, step)

    def score(b: np.ndarray) -> tuple[float, float]:
        """The weighted accuracy of bias ``b`` and, when capped, its largest predicted/true class ratio."""
        predicted = [(lg + b).argmax(axis=1) for lg in logs]
        accuracy = float(np.mean([weights[y == y_true].sum() for y in predicted]))
        if max_ratio is None:
            return accuracy, 0.0
        return accuracy, float(max(prediction_ratios(y_true, y, classes).max() for y in predicted))

    best, worst = score(bias)
    allowed = np.inf if max_ratio is None else max(max_ratio, worst)
    for _ in range(sweeps):
        improved = False
        for c in range(1, classes):
            for value in grid:
                trial = bias.copy()
                trial[c] = value
                s, ratio = score(trial)
                if s > best + 1e-9 and ratio <= allowed:
                    best, bias, improved = s, trial, True
        if not improved:
            break
    return tuple(round(float(b), 4) for b in bias - bias.mean())
