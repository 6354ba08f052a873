"""The one entry point of emolens: find every face in an image and say which emotion each shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.explain import explain_crops
from emolens.faces import DEFAULT_DETECTOR, Detection, create_detector
from emolens.faces.align import crop_faces
from emolens.pipeline.explain import CropRegion, ExplainedFace
from emolens.pipeline.images import MAX_PIXELS, ImageSource, load_image
from emolens.pipeline.results import Face


class Analyzer:
    """Face detection, alignment and emotion classification in one object.

    The model and the detector are loaded once, in the constructor; afterwards one instance may be shared by
    many threads (a web server's workers, say).

    Args:
        model_path: an emolens ONNX emotion model; ``None`` for the bundled one.
        detector: face detector name (see :data:`emolens.faces.DETECTORS`).
        tta: classify with test-time augmentation by default (slower, a little more accurate).
        threads: ONNX Runtime intra-op threads for the classifier (0: up to 4). One is fastest per frame: idle
            threads of a larger pool keep spinning and slow down the detector that runs between classifications
            (benchmarks/latency.py: detect 6.7 -> 3 ms on 640x480 frames). A server runs one analysis per thread.
        max_pixels: larger images are refused with :class:`~emolens.errors.InputError`.
        detector_options: backend-specific options for the detector (e.g. ``min_size``).
    """

    def __init__(self, model_path: str | Path | None = None, detector: str = DEFAULT_DETECTOR, tta: bool = False,
                 threads: int = 1, max_pixels: int = MAX_PIXELS, **detector_options: Any) -> None:
        self.classifier = EmotionClassifier(model_path, threads=threads)
        self.detector = create_detector(detector, **detector_options)
        self.detector_name = detector
        self.tta = tta
        self.max_pixels = max_pixels

    @property
    def labels(self) -> tuple[str, ...]:
        """Emotion labels, in score order."""
        return self.classifier.labels

    def load(self, image: ImageSource) -> np.ndarray:
        """Any image source (path, bytes, PIL image, BGR array) -> BGR uint8 array."""
        return load_image(image, max_pixels=self.max_pixels)

    def detect(self, image: ImageSource) -> list[Detection]:
        """Faces found by the detector, without emotions."""
        return self.detector.detect(self.load(image))

    def crop(self, image: np.ndarray, detections: Sequence[Detection]) -> list[np.ndarray]:
        """Aligned crops of ``detections`` in a BGR image, framed with the model's crop margin."""
        return crop_faces(image, detections, self.classifier.preprocessing.crop_margin,
                          box_scale=self.detector.box_scale)

    def classify(self, crops: Sequence[np.ndarray], tta: Optional[bool] = None) -> list[dict[str, float]]:
        """``{label: probability}`` for each face crop (grey or BGR uint8, any size), in one batch."""
        return self.classifier.classify(crops, tta=self.tta if tta is None else tta)

    def analyze_with_crops(self, image: ImageSource,
                           tta: Optional[bool] = None) -> tuple[list[Face], list[np.ndarray]]:
        """:meth:`analyze`, also returning the aligned crop of each face."""
        bgr = self.load(image)
        detections = self.detector.detect(bgr)
        crops = self.crop(bgr, detections)
        faces = [face_from_detection(d, s) for d, s in zip(detections, self.classify(crops, tta))]
        return faces, crops

    def analyze_crop(self, image: ImageSource, tta: Optional[bool] = None) -> list[Face]:
        """Classify a whole image that is already a face crop (no detection): one :class:`Face` covering it."""
        bgr = self.load(image)
        height, width = bgr.shape[:2]
        return [face_from_detection(Detection((0.0, 0.0, float(width), float(height)), 1.0), self.classify([bgr], tta)[0])]

    def analyze(self, image: ImageSource, tta: Optional[bool] = None) -> list[Face]:
        """Every face in ``image`` (path, bytes, PIL image or BGR array) with its emotion; ``[]`` when none.

        Raises:
            InputError: the image is missing, unreadable, truncated or too large.
        """
        return self.analyze_with_crops(image, tta)[0]

    def explain(self, image: ImageSource, tta: Optional[bool] = None) -> list[ExplainedFace]:
        """:meth:`analyze`, with why each face got its emotion: an occlusion grid over its crop (see
        :mod:`emolens.emotion.explain`; all faces and patch positions in one batch) and where the crop lies."""
        return self.explain_faces(*self.analyze_with_crops(image, tta))

    def explain_faces(self, faces: Sequence[Face], crops: Sequence[np.ndarray]) -> list[ExplainedFace]:
        """:meth:`explain` for faces and crops from :meth:`analyze_with_crops`."""
        explanations = explain_crops(self.classifier, crops, [face.emotion for face in faces])
        margin = self.classifier.preprocessing.crop_margin
        return [ExplainedFace(face, explanation, CropRegion.of(face, margin, self.detector.box_scale))
                for face, explanation in zip(faces, explanations)]


def face_from_detection(detection: Detection, scores: dict[str, float], track_id: Optional[int] = None) -> Face:
    """A :class:`Face` from a detection and its emotion scores."""
    box = tuple(int(round(v)) for v in detection.box)
    landmarks = None if detection.landmarks is None else tuple((float(x), float(y)) for x, y in detection.landmarks)
    return Face(box, landmarks, max(scores, key=scores.__getitem__), scores,  # type: ignore[arg-type]
                detection.score, track_id)
