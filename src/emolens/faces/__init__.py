"""Face detection: backends chosen by name, and alignment/cropping with the emotion model's framing."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

from emolens.errors import ConfigError
from emolens.faces.base import Box, Detection, FaceDetector


@dataclass(frozen=True)
class _Backend:
    """A detector class, imported only when the detector is built, and the arguments its name fixes."""

    module: str
    cls: str
    fixed: dict[str, Any] = field(default_factory=dict)

    def load(self) -> type[FaceDetector]:
        return getattr(importlib.import_module(f"emolens.faces.{self.module}"), self.cls)


DETECTORS: dict[str, _Backend] = {
    "blazeface-multi": _Backend("multiscale", "MultiScaleDetector"),
    "haar": _Backend("haar", "HaarDetector"),
    "blazeface": _Backend("blazeface", "BlazeFaceDetector", {"variant": "full"}),
    "blazeface-short": _Backend("blazeface", "BlazeFaceDetector", {"variant": "short"}),
}
"""Detector backends by name."""

DEFAULT_DETECTOR = "blazeface-multi"
"""Default: multi-scale BlazeFace (full-range model at the frame's own aspect ratio plus the short-range model on
the frame with a border) finds more close-up, cut-off, tilted and small faces than BlazeFace full-range alone, with
no false face on the 69 real photos (benchmarks/detection.py, benchmarks/pipeline_results.md)."""


def create_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> FaceDetector:
    """The detector called ``name`` (see :data:`DETECTORS`), built with backend-specific ``options``;
    :class:`~emolens.errors.ConfigError` for an unknown name or an option the backend does not take."""
    try:
        backend = DETECTORS[name]
    except KeyError:
        raise ConfigError(f"unknown face detector {name!r}; choose one of: {', '.join(DETECTORS)}") from None
    cls = backend.load()
    accepted = [p for p in inspect.signature(cls).parameters if p not in backend.fixed]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"detector {name!r} has no option {', '.join(map(repr, unknown))}; "
                          f"its options are: {', '.join(accepted)}")
    return cls(**backend.fixed, **options)


__all__ = ["Box", "Detection", "FaceDetector", "DETECTORS", "DEFAULT_DETECTOR", "create_detector"]
