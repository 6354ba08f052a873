"""How to build an :class:`~emolens.pipeline.analyzer.Analyzer`: one frozen, validated options object, in the manner
of MediaPipe Tasks' ``FaceDetectorOptions``. The CLI, the web app, the batch actors and Python callers all build
their analyzer from it (``Analyzer.create_from_options``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Optional

from emolens.errors import ConfigError
from emolens.faces import DEFAULT_DETECTOR
from emolens.faces.options import check_detector_options
from emolens.pipeline.images import IMAGE_FORMATS, MAX_PIXELS, check_image_formats
from emolens.providers import DEFAULT_PROVIDERS, check_providers

DEFAULT_THREADS = 1
"""ONNX Runtime intra-op threads of the classifier. One is fastest per frame: idle threads of a larger pool keep
spinning and slow down the detector that runs between classifications (benchmarks/latency.py: detect 6.7 -> 3 ms
on 640x480 frames). A server runs one analysis per request thread."""



@dataclass(frozen=True)
class AnalyzerOptions:
    """Settings of an :class:`~emolens.pipeline.analyzer.Analyzer`, checked when built.

    Attributes:
        model_path: an emolens ONNX emotion model; ``None`` for the bundled one.
        detector: face detector name (see :data:`emolens.faces.DETECTORS`).
        detector_options: the detector's own options, e.g. ``{"min_score": 0.6}`` (see
            :mod:`emolens.faces.options`); kept read-only.
        tta: classify with test-time augmentation by default (slower, a little more accurate).
        threads: ONNX Runtime intra-op threads of the classifier (0: up to 4; see :data:`DEFAULT_THREADS`).
        max_pixels: larger images are refused with :class:`~emolens.errors.InputError`.
        image_formats: the Pillow formats an image file may be in (others are refused with
            :class:`~emolens.errors.UnsupportedFormatError`); any case, kept upper-case.
        class_balance: how readily a face is called neutral: the class prior of the model's calibration, from 0
            (the classes as common as in FER+, where a third of the faces are neutral) to 1 (every emotion equally
            likely); ``None`` for the model's default. A model that does not store the balance asked for refuses
            it when the analyzer is built (see :meth:`~emolens.emotion.metadata.Calibration.at`).
        providers: the ONNX Runtime execution providers of the emotion model and the face detector, in order of
            preference, e.g. ``("CUDAExecutionProvider", "CPUExecutionProvider")``; default: the CPU (see
            :mod:`emolens.providers`). The Haar detector runs on OpenCV and ignores them.
        any_angle: also look for faces turned by any angle, upside down included (the detector's
            passes over quarter turns of the image, and eighth turns where faces lie near one; see
            :mod:`emolens.faces.rotated`): for photos whose orientation was lost. Slower; ``analyze`` and its kin
            may override it per call. Video frames always take the upright pass (a stream rarely turns over; see
            :class:`~emolens.pipeline.tracking.VideoStream`).

    Raises:
        ConfigError: an unknown detector or detector option, an execution provider this ONNX Runtime does not
            offer, or a value of the wrong type or range; the message names the allowed values.
    """

    model_path: Optional[Path] = None
    detector: str = DEFAULT_DETECTOR
    detector_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    tta: bool = False
    threads: int = DEFAULT_THREADS
    max_pixels: int = MAX_PIXELS
    image_formats: tuple[str, ...] = IMAGE_FORMATS
    class_balance: Optional[float] = None
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    any_angle: bool = False

    def __post_init__(self) -> None:
        if self.model_path is not None and not isinstance(self.model_path, (str, Path)):
            raise ConfigError(f"model_path must be a file path or None, got {self.model_path!r}")
        checked = check_detector_options(self.detector, self.detector_options)
        if not isinstance(self.tta, bool):
            raise ConfigError(f"tta must be true or false, got {self.tta!r}")
        _check_int("threads", self.threads, 0, "0 (ONNX Runtime picks, up to 4) or more")
        _check_int("max_pixels", self.max_pixels, 1, "a positive number of pixels")
        if not isinstance(self.any_angle, bool):
            raise ConfigError(f"any_angle must be true or false, got {self.any_angle!r}")
        set_field = object.__setattr__  # a frozen dataclass normalises its own fields this way
        set_field(self, "class_balance", check_class_balance(self.class_balance))
        set_field(self, "providers", check_providers(self.providers))
        set_field(self, "model_path", None if self.model_path is None else Path(self.model_path))
        set_field(self, "detector_options", MappingProxyType(checked))
        set_field(self, "image_formats", check_image_formats(
            [self.image_formats] if isinstance(self.image_formats, str) else self.image_formats))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Picklable (Ray sends options to its actors) although the detector options are a read-only view."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["detector_options"] = dict(self.detector_options)
        return type(self), tuple(values.values())


def check_class_balance(value: Any) -> Optional[float]:
    """``value`` as a class balance (a number from 0 to 1, or None); :class:`ConfigError` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"class_balance must be a number from 0 (faces mostly neutral, as in FER+) to 1 (every "
                          f"emotion equally likely), or None for the model's default; got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, low: int, allowed: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")
