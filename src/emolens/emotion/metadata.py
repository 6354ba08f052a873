"""What an emotion model file says about itself: labels, preprocessing and provenance, stored as ONNX
metadata properties (``emolens.*`` keys). The runtime trusts these, never the input shape."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from emolens.emotion.preprocessing import Preprocessing
from emolens.errors import ModelError

LABELS_KEY = "emolens.labels"
PREPROCESSING_KEY = "emolens.preprocessing"
CALIBRATION_KEY = "emolens.calibration"
INFO_KEY = "emolens.info"


@dataclass(frozen=True)
class Calibration:
    """How the network's probabilities p become the scores shown to people: softmax((log(p) + b) / T).

    Attributes:
        temperature: T, fitted on validation data so that a score of 80 % is right about 80 % of the time; it
            never changes which emotion comes first.
        logit_bias: b, one value per label (empty: none), e.g. to keep one class from winning by default.
    """

    temperature: float = 1.0
    logit_bias: tuple[float, ...] = ()

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
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class ModelInfo:
    """Labels (in output order), preprocessing, and free-form provenance (backbone, data, commit...)."""

    labels: tuple[str, ...]
    preprocessing: Preprocessing
    info: dict[str, str] = field(default_factory=dict)
    calibration: Calibration = Calibration()

    def __post_init__(self) -> None:
        bias = self.calibration.logit_bias
        if bias and len(bias) != len(self.labels):
            raise ValueError(f"calibration has {len(bias)} logit biases for {len(self.labels)} labels")
        if self.calibration.temperature <= 0:
            raise ValueError(f"calibration temperature must be positive, not {self.calibration.temperature}")

    def to_properties(self) -> dict[str, str]:
        return {LABELS_KEY: json.dumps(list(self.labels)), PREPROCESSING_KEY: self.preprocessing.to_json(),
                CALIBRATION_KEY: json.dumps(asdict(self.calibration)), INFO_KEY: json.dumps(self.info, sort_keys=True)}

    @classmethod
    def from_properties(cls, props: dict[str, str], source: str = "model") -> "ModelInfo":
        """Read the ``emolens.*`` metadata properties of a model file; :class:`~emolens.errors.ModelError` when
        they are missing or malformed."""
        missing = [k for k in (LABELS_KEY, PREPROCESSING_KEY) if k not in props]
        if missing:
            raise ModelError(f"{source}: not an emolens model (metadata lacks {', '.join(missing)}); "
                             "export one with `emolens export`")
        try:
            calibration = json.loads(props.get(CALIBRATION_KEY, "{}"))
            calibration["logit_bias"] = tuple(calibration.get("logit_bias", ()))
            return cls(tuple(json.loads(props[LABELS_KEY])), Preprocessing.from_json(props[PREPROCESSING_KEY]),
                       json.loads(props.get(INFO_KEY, "{}")), Calibration(**calibration))
        except (ValueError, TypeError, AttributeError) as exc:  # malformed JSON, or fields of the wrong kind
            raise ModelError(f"{source}: bad emolens metadata ({exc})") from None
