"""What an emotion model file says about itself: labels, preprocessing and provenance, stored as ONNX
metadata properties (``emolens.*`` keys). The runtime trusts these, never the input shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from emolens.emotion.preprocessing import Preprocessing
from emolens.errors import ConfigError, ModelError

LABELS_KEY = "emolens.labels"
PREPROCESSING_KEY = "emolens.preprocessing"
CALIBRATION_KEY = "emolens.calibration"
INFO_KEY = "emolens.info"
CLASS_BALANCES_KEY = "emolens.class_balances"
"""The calibration of each stored class balance; a key of its own, so that readers that predate it still load
the model (with its default calibration)."""


@dataclass(frozen=True)
class Calibration:
    """How the network's probabilities p become the scores shown to people: softmax((log(p) + b) / T).

    Attributes:
        temperature: T, fitted on validation data so that a score of 80 % is right about 80 % of the time; it
            never changes which emotion comes first.
        logit_bias: b, one value per label (empty: none), e.g. to keep one class from winning by default.
        class_balance: the class balance b was fitted for (``emolens calibrate --class-balance``: 0, the class
            frequencies of the calibration data; 1, every class equally common); None when unknown or unfitted.
        points: the calibrations fitted for other class balances too (each with ``points`` empty), in
            increasing balance, among them this one; empty when only this one is stored. See :meth:`at`.
    """

    temperature: float = 1.0
    logit_bias: tuple[float, ...] = ()
    class_balance: Optional[float] = None
    points: tuple[Calibration, ...] = ()

    def at(self, class_balance: Optional[float]) -> Calibration:
        """The calibration for ``class_balance`` (None: this one, the model's default): a stored point, or the
        bias and temperature interpolated linearly between the two stored points around it.

        Raises:
            ConfigError: the balance is outside the stored points, or the model stores no other balance.
        """
        if class_balance is None or class_balance == self.class_balance:
            return self
        stored = [_balance(p) for p in self.points]  # every stored point has its balance
        if not stored:
            fitted = "no class bias" if self.class_balance is None else \
                f"its class bias for class balance {self.class_balance:g} only"
            raise ConfigError(f"this model stores {fitted}, not for {class_balance:g}; fit others with "
                              "`emolens calibrate --class-balances 0,0.25,0.5,0.75,1`")
        if not stored[0] <= class_balance <= stored[-1]:
            raise ConfigError(f"class balance {class_balance:g} is outside what this model stores "
                              f"({stored[0]:g} to {stored[-1]:g})")
        upper = next(i for i, b in enumerate(stored) if b >= class_balance)
        high = self.points[upper]
        if high.class_balance == class_balance:  # a stored point (the first one among them)
            return high
        low = self.points[upper - 1]
        w = (class_balance - stored[upper - 1]) / (stored[upper] - stored[upper - 1])
        bias = tuple((1 - w) * a + w * b for a, b in zip(low.logit_bias, high.logit_bias, strict=True))
        return Calibration((1 - w) * low.temperature + w * high.temperature, bias, class_balance)

    def to_json(self) -> dict[str, Any]:
        """The default calibration (``emolens.calibration``, the format every emolens reads)."""
        return {"temperature": self.temperature, "logit_bias": list(self.logit_bias)}

    def points_json(self) -> dict[str, Any]:
        """The class balances (``emolens.class_balances``): the default one and every stored point."""
        return {"default": self.class_balance,
                "points": [{"class_balance": p.class_balance, **p.to_json()} for p in self.points]}

    @classmethod
    def from_json(cls, default: dict[str, Any], balances: dict[str, Any]) -> Calibration:
        """The inverse of :meth:`to_json` and :meth:`points_json`."""
        points = tuple(cls(float(p["temperature"]), tuple(map(float, p["logit_bias"])), float(p["class_balance"]))
                       for p in balances.get("points", ()))
        balance = balances.get("default")
        return cls(float(default.get("temperature", 1.0)), tuple(map(float, default.get("logit_bias", ()))),
                   None if balance is None else float(balance), tuple(sorted(points, key=_balance)))

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N, C) of raw probabilities (N, C)."""
        if self.temperature == 1.0 and not any(self.logit_bias):
            return probs
        logits = np.log(np.clip(probs, 1e-12, None))
        if self.logit_bias:
            logits = logits + np.asarray(self.logit_bias, dtype=logits.dtype)
        logits = logits / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        calibrated: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return calibrated


@dataclass(frozen=True)
class ModelInfo:
    """Labels (in output order), preprocessing, and free-form provenance (backbone, data, commit...)."""

    labels: tuple[str, ...]
    preprocessing: Preprocessing
    info: dict[str, str] = field(default_factory=dict)
    calibration: Calibration = Calibration()

    def __post_init__(self) -> None:
        for calibration in (self.calibration, *self.calibration.points):
            bias = calibration.logit_bias
            if bias and len(bias) != len(self.labels):
                raise ValueError(f"calibration has {len(bias)} logit biases for {len(self.labels)} labels")
            if calibration.temperature <= 0:
                raise ValueError(f"calibration temperature must be positive, not {calibration.temperature}")
            if calibration.class_balance is not None and not 0 <= calibration.class_balance <= 1:
                raise ValueError(f"class balance must be between 0 and 1, not {calibration.class_balance}")
        stored = [p.class_balance for p in self.calibration.points]
        if stored and (None in stored or sorted(set(stored)) != stored):  # type: ignore[type-var]
            raise ValueError(f"stored class balances must be distinct and in increasing order, not {stored}")

    def to_properties(self) -> dict[str, str]:
        properties = {LABELS_KEY: json.dumps(list(self.labels)), PREPROCESSING_KEY: self.preprocessing.to_json(),
                      CALIBRATION_KEY: json.dumps(self.calibration.to_json()),
                      INFO_KEY: json.dumps(self.info, sort_keys=True)}
        if self.calibration.class_balance is not None:
            properties[CLASS_BALANCES_KEY] = json.dumps(self.calibration.points_json())
        return properties

    @classmethod
    def from_properties(cls, props: dict[str, str], source: str = "model") -> ModelInfo:
        """Read the ``emolens.*`` metadata properties of a model file; :class:`~emolens.errors.ModelError` when
        they are missing or malformed."""
        missing = [k for k in (LABELS_KEY, PREPROCESSING_KEY) if k not in props]
        if missing:
            raise ModelError(f"{source}: not an emolens model (metadata lacks {', '.join(missing)}); "
                             "export one with `emolens export`")
        try:
            info = json.loads(props.get(INFO_KEY, "{}"))
            default = json.loads(props.get(CALIBRATION_KEY, "{}"))
            # models calibrated before the balances were stored name the one of their bias among the provenance
            legacy = {"default": float(info["class_balance"])} if "class_balance" in info and \
                default.get("logit_bias") else {}
            calibration = Calibration.from_json(default, json.loads(props.get(CLASS_BALANCES_KEY, "null")) or legacy)
            return cls(tuple(json.loads(props[LABELS_KEY])), Preprocessing.from_json(props[PREPROCESSING_KEY]),
                       info, calibration)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # malformed JSON, or wrong fields
            raise ModelError(f"{source}: bad emolens metadata ({exc})") from None


def _balance(calibration: Calibration) -> float:
    return calibration.class_balance if calibration.class_balance is not None else -1.0
