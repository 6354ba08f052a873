"""How to build an :class:`~emolens.pipeline.analyzer.Analyzer`: one frozen, validated options object, in the manner
of MediaPipe Tasks' ``FaceDetectorOptions``. The CLI, the web app, the batch actors and Python callers all build
their analyzer from it (``Analyzer.create_from_options``)."""

from __future__ import annotations

import copyreg
import numbers
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from emolens.errors import ConfigError
from emolens.faces import DEFAULT_DETECTOR
from emolens.faces.options import check_detector_name, check_detector_options
from emolens.pipeline.images import IMAGE_FORMATS, MAX_PIXELS, check_image_formats
from emolens.providers import DEFAULT_PROVIDERS, check_providers

DEFAULT_THREADS = 1
"""ONNX Runtime intra-op threads of each model, the detector's and the classifier's: one, for a server, whose
request threads already run analyses side by side. One caller analysing one image at a time (``emolens analyze``,
``emolens webcam``) gains from one per core (``threads=0``): a 640x480 one-face frame took 5.96 ms against 8.24 ms
on 2 cores (``python benchmarks/latency.py --threads 0``, ``--threads 1``); ``emolens video``, whose next frame's
faces are already found on a second thread, lost (4.81 against 3.68 ms a frame). See
:func:`~emolens.providers.session_options`."""


def read_only(mapping: Mapping[str, Any]) -> MappingProxyType[str, Any]:
    """A read-only view of a copy of ``mapping``."""
    return MappingProxyType(dict(mapping))


# The detector options are kept as a read-only view; pickle's registry makes such views picklable (as cloudpickle
# does), so that options travel to Ray's actors as they are.
copyreg.pickle(MappingProxyType, lambda view: (read_only, (dict(view),)))


class AnalyzerOptions(BaseModel):
    """Settings of an :class:`~emolens.pipeline.analyzer.Analyzer`, checked when built: a frozen pydantic model
    (picklable, for Ray's actors), the one way settings come in (the web settings, the CLI and batch flags are
    mapped onto it). The first three fields may be given by position.

    Attributes:
        model_path: an emolens ONNX emotion model; ``None`` for the bundled one.
        detector: face detector name (see :data:`emolens.faces.DETECTORS`).
        detector_options: the detector's own options, e.g. ``{"min_score": 0.6}`` (see
            :mod:`emolens.faces.options`); kept read-only.
        tta: classify with test-time augmentation by default (slower, a little more accurate).
        threads: ONNX Runtime intra-op threads of each model, the detector's and the classifier's (0: one per core,
            up to 4; see :data:`DEFAULT_THREADS`).
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
        ConfigError: an unknown field, detector or detector option, an execution provider this ONNX Runtime does
            not offer, or a value of the wrong type or range; the message names the allowed values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model_path: Optional[Path] = None
    detector: str = DEFAULT_DETECTOR
    detector_options: Mapping[str, Any] = read_only({})
    tta: bool = False
    threads: int = DEFAULT_THREADS
    max_pixels: int = MAX_PIXELS
    image_formats: tuple[str, ...] = IMAGE_FORMATS
    class_balance: Optional[float] = None
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    any_angle: bool = False

    def __init__(self, model_path: Optional[str | Path] = None, detector: str = DEFAULT_DETECTOR,
                 detector_options: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        try:
            super().__init__(model_path=model_path, detector=detector,
                             detector_options={} if detector_options is None else detector_options, **fields)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> AnalyzerOptions:
        """Options from a mapping (pydantic's way, a settings file's table, say), refused with
        :class:`ConfigError` as the constructor refuses them, not with pydantic's own error."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise _config_error(exc) from None

    def replace(self, **changes: Any) -> AnalyzerOptions:
        """A copy with ``changes``, checked like new options (pydantic's ``model_copy`` would not check them)."""
        return AnalyzerOptions(**{**dict(self), **changes})

    @field_validator("model_path", mode="plain")
    @classmethod
    def _model_path(cls, value: Any) -> Optional[Path]:
        if value is not None and not isinstance(value, (str, Path)):
            raise ConfigError(f"model_path must be a file path or None, got {value!r}")
        return None if value is None else Path(value)

    @field_validator("detector", mode="plain")
    @classmethod
    def _detector(cls, value: Any) -> str:
        check_detector_name(value)
        return str(value)

    @field_validator("detector_options", mode="plain")
    @classmethod
    def _detector_options(cls, value: Any, info: ValidationInfo) -> Mapping[str, Any]:
        if "detector" not in info.data:  # the detector was refused: its error is the one reported
            return read_only({})
        return read_only(check_detector_options(info.data["detector"], value))

    @field_validator("tta", "any_angle", mode="plain")
    @classmethod
    def _flag(cls, value: Any, info: ValidationInfo) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{info.field_name} must be true or false, got {value!r}")
        return value

    @field_validator("threads", mode="plain")
    @classmethod
    def _threads(cls, value: Any) -> int:
        return check_whole_number("threads", value, 0, "0 (one per core, up to 4) or more")

    @field_validator("max_pixels", mode="plain")
    @classmethod
    def _max_pixels(cls, value: Any) -> int:
        return check_whole_number("max_pixels", value, 1, "a positive number of pixels")

    @field_validator("image_formats", mode="plain")
    @classmethod
    def _image_formats(cls, value: Any) -> tuple[str, ...]:
        return check_image_formats([value] if isinstance(value, str) else value)

    @field_validator("class_balance", mode="plain")
    @classmethod
    def _class_balance(cls, value: Any) -> Optional[float]:
        return check_class_balance(value)

    @field_validator("providers", mode="plain")
    @classmethod
    def _providers(cls, value: Any) -> tuple[str, ...]:
        return check_providers(value)


def check_class_balance(value: Any) -> Optional[float]:
    """``value`` as a class balance (a number from 0 to 1, or None); :class:`ConfigError` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"class_balance must be a number from 0 (faces mostly neutral, as in FER+) to 1 (every "
                          f"emotion equally likely), or None for the model's default; got {value!r}")
    return float(value)


def check_whole_number(name: str, value: Any, low: int, allowed: str) -> int:
    """``value`` as an int when it is a whole number (not a bool), ``low`` or more; else :class:`ConfigError`
    "``name`` must be ``allowed``, got ``value``"."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def _config_error(exc: ValidationError) -> ConfigError:
    """The first problem of ``exc`` as the :class:`ConfigError` a validator raised (pydantic wraps it), or, for a
    field the options lack, one naming the fields."""
    error = exc.errors()[0]
    raised = error.get("ctx", {}).get("error")
    if isinstance(raised, ConfigError):
        return raised
    if error["type"] == "extra_forbidden":
        return ConfigError(f"unknown analyzer option {error['loc'][0]!r}; the options are "
                           f"{', '.join(AnalyzerOptions.model_fields)} (a detector's own options go in "
                           "detector_options)")
    return ConfigError(f"analyzer option {'.'.join(map(str, error['loc']))}: {error['msg']}")
