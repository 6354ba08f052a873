"""Face detection: backends chosen by name, and alignment/cropping with the emotion model's framing."""

from __future__ import annotations

from typing import Any, Callable

from emolens.faces.base import Box, Detection, FaceDetector


def _haar(**options: Any) -> FaceDetector:
    from emolens.faces.haar import HaarDetector

    return HaarDetector(**options)


DETECTORS: dict[str, Callable[..., FaceDetector]] = {"haar": _haar}
"""Detector factories by name."""

DEFAULT_DETECTOR = "haar"


def create_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> FaceDetector:
    """The detector called ``name`` (see :data:`DETECTORS`), built with backend-specific ``options``."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; choose one of: {', '.join(DETECTORS)}") from None
    return factory(**options)


__all__ = ["Box", "Detection", "FaceDetector", "DETECTORS", "DEFAULT_DETECTOR", "create_detector"]
