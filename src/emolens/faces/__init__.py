"""Face detection: backends chosen by name, and alignment/cropping with the emotion model's framing."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from emolens.faces.base import Box, Detection, FaceDetector

RUNTIME_PARAMETERS = ("providers", "threads")
"""Constructor parameters that the analyzer sets for every model, not detector options: the ONNX Runtime execution
providers and intra-op threads (a backend without sessions, such as Haar on OpenCV, does not take them)."""


@dataclass(frozen=True)
class DetectorBackend:
    """Where a detector's class lives (imported on first use) and the constructor arguments its name fixes."""

    module: str
    cls: str
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> type[FaceDetector]:
        """The backend class."""
        backend: type[FaceDetector] = getattr(importlib.import_module(self.module), self.cls)
        return backend

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The options this detector takes: its constructor's keyword parameters, less the fixed and runtime ones."""
        params = inspect.signature(self.load()).parameters
        return {name: p for name, p in params.items() if name not in self.fixed and name not in RUNTIME_PARAMETERS}

    def __call__(self, **options: Any) -> FaceDetector:
        return self.load()(**self.fixed, **options)


DETECTORS: dict[str, DetectorBackend] = {
    "blazeface-multi": DetectorBackend("emolens.faces.multiscale", "MultiScaleDetector"),
    "haar": DetectorBackend("emolens.faces.haar", "HaarDetector"),
    "blazeface": DetectorBackend("emolens.faces.blazeface", "BlazeFaceDetector", {"variant": "full"}),
    "blazeface-short": DetectorBackend("emolens.faces.blazeface", "BlazeFaceDetector", {"variant": "short"}),
}
"""Detector backends by name."""

DEFAULT_DETECTOR = "blazeface-multi"
"""Default: multi-scale BlazeFace (full-range model at the frame's own aspect ratio plus the short-range model on
the frame with a border) finds more close-up, cut-off, tilted and small faces than BlazeFace full-range alone, with
no false face on the 69 real photos (benchmarks/detection.py, benchmarks/pipeline_results.md)."""


def create_detector(name: str = DEFAULT_DETECTOR, providers: Optional[Sequence[str]] = None,
                    threads: Optional[int] = None, **options: Any) -> FaceDetector:
    """The detector called ``name`` (see :data:`DETECTORS`), built with backend-specific ``options``, its ONNX Runtime
    sessions on ``providers`` (None: the CPU; see :mod:`emolens.providers`) with ``threads`` intra-op threads each
    (None: the backend's default; see :func:`emolens.providers.session_options`); a backend without sessions
    ignores both.

    Raises:
        ConfigError: an unknown detector name, options it does not take or values out of range (see
            :func:`emolens.faces.options.check_detector_options`), or providers this ONNX Runtime lacks.
    """
    from emolens.faces.options import check_detector_options
    from emolens.providers import check_providers

    checked = check_detector_options(name, options)
    takes = inspect.signature(DETECTORS[name].load()).parameters
    if providers is not None and "providers" in takes:
        checked["providers"] = check_providers(providers)
    if threads is not None and "threads" in takes:
        checked["threads"] = threads
    return DETECTORS[name](**checked)


__all__ = ["Box", "Detection", "FaceDetector", "DETECTORS", "DEFAULT_DETECTOR", "DetectorBackend", "create_detector"]
