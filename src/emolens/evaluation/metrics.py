"""Classification metrics of an evaluation, from scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from emolens.errors import DatasetError


def summarize(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """``n``, ``accuracy``, ``balanced_accuracy`` (the mean recall of the classes present: the accuracy if they
    were equally common), ``macro_f1``, ``per_class`` (precision, recall, f1, support) and ``confusion`` (rows: true
    class, columns: predicted, in ``labels`` order)."""
    classes = np.arange(len(labels))
    if len(y_true) == 0:
        raise DatasetError("nothing to evaluate: no labelled faces were classified")
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "per_class": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }
