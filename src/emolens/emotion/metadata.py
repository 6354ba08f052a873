"""What an emotion model file says about itself: labels, preprocessing and provenance, stored as ONNX
metadata properties (``emolens.*`` keys). The runtime trusts these, never the input shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from emolens.emotion.preprocessing import Preprocessing

LABELS_KEY = "emolens.labels"
PREPROCESSING_KEY = "emolens.preprocessing"
INFO_KEY = "emolens.info"


@dataclass(frozen=True)
class ModelInfo:
    """Labels (in output order), preprocessing, and free-form provenance (backbone, data, commit...)."""

    labels: tuple[str, ...]
    preprocessing: Preprocessing
    info: dict[str, str] = field(default_factory=dict)

    def to_properties(self) -> dict[str, str]:
        return {LABELS_KEY: json.dumps(list(self.labels)), PREPROCESSING_KEY: self.preprocessing.to_json(),
                INFO_KEY: json.dumps(self.info, sort_keys=True)}

    @classmethod
    def from_properties(cls, props: dict[str, str], source: str = "model") -> "ModelInfo":
        missing = [k for k in (LABELS_KEY, PREPROCESSING_KEY) if k not in props]
        if missing:
            raise ValueError(f"{source}: not an emolens model (metadata lacks {', '.join(missing)}); "
                             "export one with `emolens export`")
        return cls(tuple(json.loads(props[LABELS_KEY])), Preprocessing.from_json(props[PREPROCESSING_KEY]),
                   json.loads(props.get(INFO_KEY, "{}")))
