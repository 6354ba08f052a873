"""A model's accuracy under the controlled shifts of :mod:`emolens.evaluation.shifts`, and how often it
predicts each class compared with how often the class occurs (over-prediction of one class shows there)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from emolens.emotion.classifier import EmotionClassifier
from emolens.evaluation.evaluate import classify_in_batches
from emolens.evaluation.metrics import summarize
from emolens.evaluation.shifts import SHIFTS, shifted

ALL_SHIFTS = ("clean", *SHIFTS)


def probabilities_under_shifts(classifier: EmotionClassifier, faces: list[np.ndarray],
                               shifts: Iterable[str] = ALL_SHIFTS, tta: bool = False, calibrated: bool = True,
                               batch_size: int = 512) -> dict[str, np.ndarray]:
    """Class probabilities (N, C) of every face under each shift."""
    return {name: classify_in_batches(classifier, shifted(faces, name), tta, batch_size, progress=False,
                                      calibrated=calibrated) for name in shifts}


def prediction_ratios(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """How often each class is predicted divided by how often it is true (1 = unbiased)."""
    true = np.bincount(y_true, minlength=num_classes).astype(float)
    predicted = np.bincount(y_pred, minlength=num_classes).astype(float)
    return predicted / np.maximum(true, 1)


def robustness_summary(probs: dict[str, np.ndarray], y_true: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """Per shift: accuracy, balanced accuracy, macro F1 and predicted/true ratio per class; plus the mean
    accuracy and balanced accuracy over the shifts (clean excluded) and the largest ratio anywhere."""
    per_shift = {}
    for name, p in probs.items():
        y_pred = p.argmax(axis=1)
        summary = summarize(y_true, y_pred, labels)
        ratios = prediction_ratios(y_true, y_pred, len(labels))
        per_shift[name] = {"accuracy": summary["accuracy"], "balanced_accuracy": summary["balanced_accuracy"],
                           "macro_f1": summary["macro_f1"],
                           "ratios": dict(zip(labels, map(float, ratios), strict=True))}
    shifted_only = [v for k, v in per_shift.items() if k != "clean"]
    worst = max(((k, label, r) for k, v in per_shift.items() for label, r in v["ratios"].items()),
                key=lambda t: t[2])
    mean = {f"mean_shifted_{key}": float(np.mean([v[key] for v in shifted_only])) if shifted_only else None
            for key in ("accuracy", "balanced_accuracy")}
    return {"shifts": per_shift, **mean, "max_ratio": {"shift": worst[0], "label": worst[1], "ratio": worst[2]}}
