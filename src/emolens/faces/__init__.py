"""Face detection: backends chosen by name, and alignment/cropping with the emotion model's framing."""

from __future__ import annotations

from typing import Any, Callable

from emolens.faces.base import Box, Detection, FaceDetector


def _haar(**options: Any) -> FaceDetector:
    from emolens.faces.haar import HaarDetector

    return HaarDetector(**options)


def _blazeface(variant: str) -> Callable[..., FaceDetector]:
    def factory(**options: Any) -> FaceDetector:
        from emolens.faces.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(variant, **options)

    return factory


def _multiscale(**options: Any) -> FaceDetector:
    from emolens.faces.multiscale import MultiScaleDetector

    return MultiScaleDetector(**options)


DETECTORS: dict[str, Callable[..., FaceDetector]] = {
    "blazeface-multi": _multiscale,
    "haar": _haar,
    "blazeface": _blazeface("full"),
    "blazeface-short": _blazeface("short"),
}
"""Detector factories by name."""

DEFAULT_DETECTOR = "blazeface-multi"
"""Default: multi-scale BlazeFace (full-range model at the frame's own aspect ratio plus the short-range model on
the frame with a border) finds more close-up, cut-off, tilted and small faces than BlazeFace full-range alone, with
no false face on the 69 real photos (benchmarks/detection.py, benchmarks/pipeline_results.md)."""


def create_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> FaceDetector:
    """The detector called ``name`` (see :data:`DETECTORS`), built with backend-specific ``options``."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; choose one of: {', '.join(DETECTORS)}") from None
    return factory(**options)


__all__ = ["Box", "Detection", "FaceDetector", "DETECTORS", "DEFAULT_DETECTOR", "create_detector"]
