"""Calibrate an exported model: fit its class bias under the robustness shifts and its temperature on clean
validation faces, and write both into a copy of the ONNX file's metadata."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import onnx

from emolens.datasets import LabelMode, load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration, ModelInfo
from emolens.evaluation.calibration import expected_calibration_error, fit_logit_bias, fit_temperature
from emolens.evaluation.robustness import ALL_SHIFTS, probabilities_under_shifts
from emolens.training.onnx_metadata import set_model_info


def write_model_info(model_path: str | Path, out: str | Path, model_info: ModelInfo) -> None:
    """Copy an ONNX model to ``out`` with ``model_info`` as its emolens metadata."""
    model = onnx.load(str(model_path))
    set_model_info(model, model_info)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))


def calibrate(model_path: str | Path, data: str | Path, out: str | Path, split: str = "val",
              label_mode: LabelMode = "majority", bias: bool = True,
              class_balance: float = 0.0, max_ratio: float | None = None) -> dict[str, Any]:
    """Fit and store the calibration of ``model_path`` on ``split`` of ``data``; returns what was fitted and
    the ECE of the clean split before and after.

    ``class_balance``: 0 fits the bias for the class frequencies of ``split``; towards 1, for classes more evenly
    spread (1: the mean per-class recall), as real photos are next to FER+, where neutral is the largest class
    (see :func:`~emolens.evaluation.calibration.fit_logit_bias`); ``max_ratio`` caps how many times as often as it
    occurs any class may be predicted, under any shift."""
    classifier = EmotionClassifier(model_path)
    faces = load_dataset(data, split, label_mode=label_mode, label_names=classifier.labels)
    shifts = ALL_SHIFTS if bias else ("clean",)
    probs = probabilities_under_shifts(classifier, faces.images, shifts=shifts, calibrated=False)
    logit_bias = fit_logit_bias(list(probs.values()), faces.labels, class_balance, max_ratio) if bias else ()
    temperature = fit_temperature(probs["clean"], faces.labels, logit_bias)
    calibration = Calibration(round(temperature, 4), logit_bias)
    info = {**classifier.model_info.info, "calibrated_on": f"{Path(data).name} {split}",
            **({"class_balance": str(class_balance)} if bias else {}),
            **({"max_ratio": str(max_ratio)} if bias and max_ratio is not None else {})}
    write_model_info(model_path, out, dataclasses.replace(classifier.model_info, calibration=calibration, info=info))
    return {"temperature": calibration.temperature, "logit_bias": dict(zip(classifier.labels, logit_bias)),
            "ece_before": expected_calibration_error(probs["clean"], faces.labels),
            "ece_after": expected_calibration_error(calibration.apply(probs["clean"]), faces.labels), "n": len(faces)}
