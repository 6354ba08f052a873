"""The one entry point of emolens: find every face in an image or a video frame and say which emotion each shows.

Everything that analyses faces (the CLI commands, the web app, the batch actors, evaluation of whole photos, the
benchmarks) goes through :class:`Analyzer`, and every analysis goes through its one detect -> crop -> classify ->
:class:`~emolens.pipeline.results.Face` path. The classifier and the detector inside are private.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Optional

import numpy as np

from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.explain import explain_crops
from emolens.emotion.metadata import ModelInfo
from emolens.errors import ConfigError
from emolens.faces import Box, Detection, FaceDetector, create_detector
from emolens.faces.align import crop_faces
from emolens.faces.rotated import RotatedPasses
from emolens.pipeline.explain import CropRegion, ExplainedFace
from emolens.pipeline.images import ImageSource, load_image
from emolens.pipeline.options import AnalyzerOptions, check_class_balance, check_whole_number
from emolens.pipeline.results import Face


class Analyzer:
    """Face detection, alignment and emotion classification in one object, built from :class:`AnalyzerOptions`
    (like MediaPipe Tasks' ``create_from_options``)::

        analyzer = Analyzer.create_from_options(AnalyzerOptions(detector="haar", tta=True))
        analyzer = Analyzer(detector="haar", tta=True)   # the same: keywords are AnalyzerOptions fields

    The model and the detector are loaded once, when it is created. It keeps no state between calls, so one
    instance may be shared by many threads (a web server's workers, say) and many video streams: the frames of
    one stream go through a :class:`~emolens.pipeline.tracking.VideoStream`, which adds track IDs and smoothed
    scores after it. :meth:`close` (or a ``with`` block) frees the model sessions and the detector's thread.
    """

    def __init__(self, model_path: str | Path | None = None, **options: Any) -> None:
        """Shorthand for ``Analyzer.create_from_options(AnalyzerOptions(model_path, **options))``; a detector's own
        options go in ``detector_options``."""
        self._start(AnalyzerOptions(model_path, **options))

    @classmethod
    def create_from_options(cls, options: AnalyzerOptions) -> Analyzer:
        """An analyzer with these options: the one way every analyzer is built.

        Raises:
            ModelError, FileNotFoundError, ValueError: the model file is missing or unusable.
        """
        if not isinstance(options, AnalyzerOptions):
            raise ConfigError(f"expected AnalyzerOptions, got {type(options).__name__}")
        analyzer = cls.__new__(cls)
        analyzer._start(options)
        return analyzer

    def _start(self, options: AnalyzerOptions) -> None:
        self._options = options
        self._classifier: Optional[EmotionClassifier] = EmotionClassifier(options.model_path, threads=options.threads,
                                                                    class_balance=options.class_balance,
                                                                    providers=options.providers)
        self._detector: Optional[FaceDetector] = create_detector(options.detector, providers=options.providers,
                                                                 threads=options.threads, **options.detector_options)
        self._turned = RotatedPasses(self._detector)  # the same detector's passes over turned copies
        self._model_info = self._classifier.model_info
        self._class_balance = self._classifier.class_balance
        self._model_path = self._classifier.model_path
        self._box_scale = self._detector.box_scale

    @property
    def options(self) -> AnalyzerOptions:
        """The options it was built with."""
        return self._options

    @property
    def labels(self) -> tuple[str, ...]:
        """Emotion labels, in score order."""
        return self._model_info.labels

    @property
    def model_info(self) -> ModelInfo:
        """What the model file says about itself: labels, preprocessing, calibration, training facts."""
        return self._model_info

    @property
    def model_path(self) -> Path:
        """The emotion model file."""
        return self._model_path

    @property
    def model_name(self) -> str:
        """The emotion model's file name (stored with each analysis by the web app)."""
        return self._model_path.name

    @property
    def detector_name(self) -> str:
        return self._options.detector

    @property
    def tta(self) -> bool:
        """Whether classification uses test-time augmentation unless a call says otherwise."""
        return self._options.tta

    @property
    def class_balance(self) -> Optional[float]:
        """The class balance of the scores unless a call says otherwise (the option, else the model's default;
        None when the model does not say): see :attr:`AnalyzerOptions.class_balance`."""
        return self._class_balance

    def resolve_class_balance(self, class_balance: Optional[float]) -> Optional[float]:
        """The class balance a call with ``class_balance`` uses; :class:`~emolens.errors.ConfigError` when the
        value is not one or the model does not store it."""
        return self._parts()[0].calibration_for(check_class_balance(class_balance)).class_balance

    @property
    def max_pixels(self) -> int:
        """Images with more pixels are refused."""
        return self._options.max_pixels

    @property
    def image_formats(self) -> tuple[str, ...]:
        """The Pillow formats an image file may be in; others are refused."""
        return self._options.image_formats

    @property
    def any_angle(self) -> bool:
        """Whether calls look for faces at any angle unless a call says otherwise."""
        return self._options.any_angle

    def _parts(self, any_angle: bool = False) -> tuple[EmotionClassifier, FaceDetector]:
        """The classifier and the detector: the upright one, or with ``any_angle`` its turned passes."""
        if self._classifier is None or self._detector is None:
            raise ValueError("this Analyzer is closed")
        return self._classifier, self._turned if any_angle else self._detector

    def load(self, image: ImageSource) -> np.ndarray:
        """Any image source (path, bytes, PIL image, BGR array) -> BGR uint8 array."""
        return load_image(image, self._options.max_pixels, self._options.image_formats)

    def detect(self, image: ImageSource, any_angle: Optional[bool] = None) -> list[Detection]:
        """The detection stage alone: faces found by the detector, without emotions (``any_angle``: as in
        :meth:`analyze`)."""
        return self._parts(self._any_angle(any_angle))[1].detect(self.load(image))

    def detect_near(self, image: np.ndarray, boxes: Sequence[Box]) -> Optional[list[Detection]]:
        """The detection stage looking only near ``boxes`` of a BGR image (where a stream's faces were a frame
        ago; upright); None when the detector cannot (:meth:`~emolens.faces.base.FaceDetector.detect_near`)."""
        return self._parts()[1].detect_near(image, boxes)

    def faces(self, image: np.ndarray, detections: Sequence[Detection], tta: Optional[bool] = None,
              class_balance: Optional[float] = None) -> list[Face]:
        """The stages after detection: the faces of ``detections`` in a BGR image, cropped and classified in one
        batch."""
        return self._classified(detections, self.crop(image, detections), tta, class_balance)

    def _classified(self, detections: Sequence[Detection], crops: Sequence[np.ndarray], tta: Optional[bool],
                    class_balance: Optional[float]) -> list[Face]:
        probs = self.predict_proba(crops, tta, class_balance=class_balance)
        return [face_from_detection(d, self._scores(p)) for d, p in zip(detections, probs, strict=True)]

    def crop(self, image: np.ndarray, detections: Sequence[Detection]) -> list[np.ndarray]:
        """The crop stage alone: aligned crops of ``detections`` in a BGR image, framed with the model's crop
        margin."""
        return crop_faces(image, detections, self._model_info.preprocessing.crop_margin, box_scale=self._box_scale)

    def classify(self, crops: Sequence[np.ndarray], tta: Optional[bool] = None,
                 class_balance: Optional[float] = None) -> list[dict[str, float]]:
        """The classification stage alone: ``{label: probability}`` for each face crop (grey or BGR uint8, any
        size), in one batch (``class_balance`` for this call; None: the analyzer's)."""
        return [self._scores(p) for p in self.predict_proba(crops, tta, class_balance=class_balance)]

    def predict_proba(self, crops: Sequence[np.ndarray], tta: Optional[bool] = None,
                      calibrated: bool = True, class_balance: Optional[float] = None) -> np.ndarray:
        """:meth:`classify` as an array: probabilities ``(N, C)`` in :attr:`labels` order (``calibrated``: see
        :meth:`~emolens.emotion.classifier.EmotionClassifier.predict_inputs`)."""
        return self._parts()[0].predict_proba(crops, tta=self._tta(tta), calibrated=calibrated,
                                              class_balance=check_class_balance(class_balance))

    def _tta(self, tta: Optional[bool]) -> bool:
        return self._options.tta if tta is None else tta

    def _any_angle(self, any_angle: Optional[bool]) -> bool:
        return self._options.any_angle if any_angle is None else any_angle

    def _scores(self, probs: np.ndarray) -> dict[str, float]:
        return dict(zip(self.labels, map(float, probs), strict=True))

    def _faces(self, bgr: np.ndarray, tta: Optional[bool], max_faces: int = 0,
               class_balance: Optional[float] = None,
               any_angle: Optional[bool] = None) -> tuple[list[Face], list[np.ndarray]]:
        """The one detect -> crop -> classify -> Face path: every face's crop classified in one batch."""
        detections = self._parts(self._any_angle(any_angle))[1].detect(bgr)
        detections = largest_detections(detections, max_faces)
        crops = self.crop(bgr, detections)
        return self._classified(detections, crops, tta, class_balance), crops

    def analyze_with_crops(self, image: ImageSource, tta: Optional[bool] = None,
                           class_balance: Optional[float] = None, any_angle: Optional[bool] = None
                           ) -> tuple[list[Face], list[np.ndarray]]:
        """:meth:`analyze`, also returning the aligned crop of each face."""
        return self._faces(self.load(image), tta, class_balance=class_balance, any_angle=any_angle)

    def analyze(self, image: ImageSource, tta: Optional[bool] = None, max_faces: int = 0,
                class_balance: Optional[float] = None, any_angle: Optional[bool] = None) -> list[Face]:
        """Every face in ``image`` (path, bytes, PIL image or BGR array) with its emotion; ``[]`` when none.

        Args:
            tta: test-time augmentation for this call (``None``: the analyzer's setting).
            max_faces: keep only this many faces, the largest (insightface's ``max_num``; 1: how evaluation
                scores whole labelled photos), in the detector's order; 0: every face.
            class_balance: the class balance for this call (``None``: the analyzer's; see
                :attr:`AnalyzerOptions.class_balance`).
            any_angle: look for faces turned by any angle too, for this call (``None``: the analyzer's setting,
                :attr:`AnalyzerOptions.any_angle`).

        Raises:
            InputError: the image is missing, unreadable, truncated or too large.
            ConfigError: the model does not store ``class_balance``, or
                ``max_faces`` is not a whole number, 0 or more.
        """
        return self._faces(self.load(image), tta, max_faces, class_balance=class_balance, any_angle=any_angle)[0]

    def analyze_crop(self, image: ImageSource, tta: Optional[bool] = None,
                     class_balance: Optional[float] = None) -> list[Face]:
        """Classify a whole image that is already a face crop (no detection): one :class:`Face` covering it."""
        bgr = self.load(image)
        height, width = bgr.shape[:2]
        whole = Detection((0.0, 0.0, float(width), float(height)), 1.0)
        return [face_from_detection(whole, self.classify([bgr], tta, class_balance)[0])]

    def explain(self, image: ImageSource, tta: Optional[bool] = None,
                class_balance: Optional[float] = None, any_angle: Optional[bool] = None) -> list[ExplainedFace]:
        """:meth:`analyze`, with why each face got its emotion: an occlusion grid over its crop (see
        :mod:`emolens.emotion.explain`; all faces and patch positions in one batch) and where the crop lies."""
        faces, crops = self._faces(self.load(image), tta, class_balance=class_balance, any_angle=any_angle)
        return self.explain_faces(faces, crops, class_balance)

    def explain_faces(self, faces: Sequence[Face], crops: Sequence[np.ndarray],
                      class_balance: Optional[float] = None) -> list[ExplainedFace]:
        """:meth:`explain` for faces and crops from :meth:`analyze_with_crops` (with the same ``class_balance``)."""
        explanations = explain_crops(self._parts()[0], crops, [face.emotion for face in faces],
                                     class_balance=check_class_balance(class_balance))
        margin = self._model_info.preprocessing.crop_margin
        return [ExplainedFace(face, explanation, CropRegion.of(face, margin, self._box_scale))
                for face, explanation in zip(faces, explanations, strict=True)]

    def close(self) -> None:
        """Free the model sessions and the detector's thread; later analyses raise ValueError. Idempotent."""
        if self._detector is not None:
            self._detector.close()
        self._classifier, self._detector = None, None

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()


def largest_detections(detections: Sequence[Detection], max_faces: int) -> list[Detection]:
    """The ``max_faces`` largest of ``detections`` (by box area), in their own order; all of them when 0."""
    max_faces = check_whole_number("max_faces", max_faces, 0, "0 (every face) or a number of faces")
    if not max_faces or len(detections) <= max_faces:
        return list(detections)
    kept = sorted(range(len(detections)), key=lambda i: -detections[i].box[2] * detections[i].box[3])[:max_faces]
    return [detections[i] for i in sorted(kept)]


def face_from_detection(detection: Detection, scores: dict[str, float]) -> Face:
    """A :class:`Face` from a detection and its emotion scores."""
    box = tuple(int(round(v)) for v in detection.box)
    landmarks = None if detection.landmarks is None else tuple((float(x), float(y)) for x, y in detection.landmarks)
    return Face(box, landmarks, max(scores, key=scores.__getitem__), scores,  # type: ignore[arg-type]
                detection.score)
