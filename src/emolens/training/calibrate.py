"""Calibrate an exported model: fit its class bias under the robustness shifts and its temperature on clean
validation faces, and write both into a copy of the ONNX file's metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import onnx

from emolens.datasets import LabelMode, load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration, ModelInfo
from emolens.errors import ConfigError
from emolens.evaluation.calibration import expected_calibration_error, fit_logit_bias, fit_temperature
from emolens.evaluation.robustness import ALL_SHIFTS, probabilities_under_shifts
from emolens.training.onnx_metadata import set_model_info


def write_model_info(model_path: str | Path, out: str | Path, model_info: ModelInfo) -> None:
    """Copy an ONNX model to ``out`` with ``model_info`` as its emolens metadata."""
    model = onnx.load(str(model_path))
    set_model_info(model, model_info)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))


def fit_calibration(probs: dict[str, np.ndarray], labels: np.ndarray, class_balance: Optional[float],
                    max_ratio: Optional[float] = None) -> Calibration:
    """The calibration for one class balance: the bias under every condition of ``probs`` (None: no bias), then
    the temperature on the clean crops."""
    bias = () if class_balance is None else fit_logit_bias(list(probs.values()), labels, class_balance, max_ratio)
    return Calibration(round(fit_temperature(probs["clean"], labels, bias), 4), bias, class_balance)


def calibrate(model_path: str | Path, data: str | Path, out: str | Path, split: str = "val",
              label_mode: LabelMode = "majority", bias: bool = True, class_balance: float = 0.0,
              max_ratio: float | None = None, class_balances: Sequence[float] = ()) -> dict[str, Any]:
    """Fit and store the calibration of ``model_path`` on ``split`` of ``data``; returns what was fitted and
    the ECE of the clean split before and after.

    ``class_balance``: 0 fits the bias for the class frequencies of ``split``; towards 1, for classes more evenly
    spread (1: the mean per-class recall), as real photos are next to FER+, where neutral is the largest class
    (see :func:`~emolens.evaluation.calibration.fit_logit_bias`); it is the model's default. ``class_balances``:
    the other balances to fit and store too, for people to choose at run time (see
    :meth:`~emolens.emotion.metadata.Calibration.at`). ``max_ratio`` caps how many times as often as it occurs
    any class may be predicted, under any shift."""
    if class_balances and not bias:
        raise ConfigError("class balances need the class bias: leave out --no-bias")
    classifier = EmotionClassifier(model_path)
    faces = load_dataset(data, split, label_mode=label_mode, label_names=classifier.labels)
    probs = probabilities_under_shifts(classifier, faces.images, shifts=ALL_SHIFTS if bias else ("clean",),
                                       calibrated=False)
    balances = sorted({*class_balances, class_balance}) if class_balances else []
    points = tuple(fit_calibration(probs, faces.label_ids, b, max_ratio) for b in balances)
    default = next((p for p in points if p.class_balance == class_balance), None) or \
        fit_calibration(probs, faces.label_ids, class_balance if bias else None, max_ratio)
    calibration = dataclasses.replace(default, points=points)
    kept = {k: v for k, v in classifier.model_info.info.items() if k not in ("class_balance", "max_ratio")}
    info = {**kept, "calibrated_on": f"{Path(data).name} {split}",
            **({"class_balance": str(class_balance)} if bias else {}),
            **({"max_ratio": str(max_ratio)} if bias and max_ratio is not None else {})}
    write_model_info(model_path, out, dataclasses.replace(classifier.model_info, calibration=calibration, info=info))
    fitted_bias = dict(zip(classifier.labels, calibration.logit_bias, strict=False))  # empty: no bias
    return {"temperature": calibration.temperature, "logit_bias": fitted_bias,
            "ece_before": expected_calibration_error(probs["clean"], faces.label_ids),
            "ece_after": expected_calibration_error(calibration.apply(probs["clean"]), faces.label_ids),
            "n": len(faces),
            **({"class_balances": [_point_summary(p, probs["clean"], faces.label_ids, classifier.labels)
                                   for p in points]} if points else {})}


def _point_summary(point: Calibration, clean: np.ndarray, labels: np.ndarray,
                   names: Sequence[str]) -> dict[str, Any]:
    return {"class_balance": point.class_balance, "temperature": point.temperature,
            "logit_bias": dict(zip(names, point.logit_bias, strict=False)),  # {}: no bias
            "ece_after": expected_calibration_error(point.apply(clean), labels)}
