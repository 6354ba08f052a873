"""Evaluate an emotion model on labelled images, through the same runtime that serves it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from emolens.datasets import LabelMode, load_dataset
from emolens.datasets.ferplus import FERPLUS_EXCLUDED
from emolens.emotion.classifier import EmotionClassifier
from emolens.evaluation.metrics import summarize

if TYPE_CHECKING:
    from emolens.pipeline.analyzer import Analyzer

FaceCropper = Callable[[np.ndarray], "np.ndarray | None"]
"""Returns the crop of the largest face in an image, or None when it finds no face."""


def evaluate(source: str | Path, classifier: EmotionClassifier, split: str | None = None, label_mode: LabelMode = "fer2013",
             tta: bool = True, face_cropper: FaceCropper | None = None, batch_size: int = 256,
             progress: bool = False, present_labels: bool = False) -> dict[str, Any]:
    """Classify every labelled image of ``source`` and summarise the result.

    Args:
        source: anything :func:`emolens.datasets.load_dataset` reads (a class-per-folder tree, a FER2013 CSV,
            the FER+ reference folder).
        split: ``train``, ``val`` or ``test`` of a source that has splits; None for a plain folder.
        label_mode: for FER+ sources, ``fer2013`` (original labels), ``majority`` or ``soft`` (FER+ votes; see
            :data:`emolens.datasets.options.LabelMode`).
        tta: average predictions over test-time augmented views.
        face_cropper: finds the face in each image; None treats every image as a face crop already.
        present_labels: also score with predictions restricted to the labels present in the data.

    Returns the :func:`~emolens.evaluation.metrics.summarize` dict plus ``protocol`` (``all_labels``: the
    model's top class among all its labels), ``no_face`` (images with no face found, left out of the metrics),
    ``skipped`` (images whose class the model does not know) and ``tta``; with ``present_labels``, also
    ``present_labels``: the same metrics over the present labels only, with ``protocol`` ``present_labels``
    and ``labels``.
    """
    dataset = load_dataset(source, split, label_mode=label_mode, label_names=classifier.labels)
    model_index = {name.lower(): i for i, name in enumerate(classifier.labels)}
    data_to_model = np.array([model_index.get(n.lower(), -1) for n in dataset.label_names])
    skipped = sum(count for reason, count in dataset.skipped.items() if reason != FERPLUS_EXCLUDED)
    y_true_all = data_to_model[dataset.labels]
    skipped += int((y_true_all < 0).sum())
    keep = np.flatnonzero(y_true_all >= 0)
    crops: list[np.ndarray] = []
    y_true: list[int] = []
    no_face = 0
    for i in tqdm(keep, desc="finding faces", disable=not progress or face_cropper is None, unit="image"):
        crop = dataset.images[i] if face_cropper is None else face_cropper(dataset.images[i])
        if crop is None:
            no_face += 1
            continue
        crops.append(crop)
        y_true.append(int(y_true_all[i]))
    probs = classify_in_batches(classifier, crops, tta, batch_size, progress)
    truth = np.asarray(y_true, dtype=np.int64)
    summary = {"protocol": "all_labels", **summarize(truth, probs.argmax(axis=1), classifier.labels),
               "no_face": no_face, "skipped": skipped, "tta": tta}
    if present_labels:
        summary["present_labels"] = summarize_present_labels(truth, probs, classifier.labels)
    return summary


def summarize_present_labels(y_true: np.ndarray, probs: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """Metrics when the prediction is the most probable of the labels present in ``y_true`` only (for data sets
    that lack some of the model's classes: a 6-class set, posed sets without neutral)."""
    present = np.unique(y_true)
    position = np.full(len(labels), -1)
    position[present] = np.arange(len(present))
    names = tuple(labels[i] for i in present)
    return {"protocol": "present_labels", "labels": list(names),
            **summarize(position[y_true], probs[:, present].argmax(axis=1), names)}


def largest_face_cropper(analyzer: "Analyzer") -> FaceCropper:
    """A :data:`FaceCropper` that keeps the largest face the analyzer's detector finds, aligned and framed."""

    def crop(image: np.ndarray) -> np.ndarray | None:
        bgr = analyzer.load(image)
        detections = analyzer.detector.detect(bgr)
        if not detections:
            return None
        largest = max(detections, key=lambda d: d.box[2] * d.box[3])
        return analyzer.crop(bgr, [largest])[0]

    return crop


def classify_in_batches(classifier: EmotionClassifier, crops: Sequence[np.ndarray], tta: bool, batch_size: int,
                        progress: bool, calibrated: bool = True) -> np.ndarray:
    """Class probabilities ``(N, C)`` of the crops (``calibrated``: see :meth:`EmotionClassifier.predict_inputs`)."""
    probs = [classifier.predict_proba(crops[start:start + batch_size], tta=tta, calibrated=calibrated)
             for start in tqdm(range(0, len(crops), batch_size), desc="classifying", disable=not progress,
                               unit="batch")]
    return np.concatenate(probs) if probs else np.zeros((0, len(classifier.labels)), np.float32)
