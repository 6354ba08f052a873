"""Evaluate an emotion model on labelled images, through the same runtime that serves it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

import numpy as np
from tqdm import tqdm

from emolens.datasets import LabelMode, load_dataset
from emolens.datasets.ferplus import FERPLUS_EXCLUDED
from emolens.evaluation.metrics import summarize

if TYPE_CHECKING:
    from emolens.pipeline.analyzer import Analyzer


class Classifies(Protocol):
    """What classifies face crops: an :class:`~emolens.pipeline.analyzer.Analyzer`, or an
    :class:`~emolens.emotion.classifier.EmotionClassifier` where no face is detected (calibration, robustness)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict_proba(self, crops: Sequence[np.ndarray], tta: bool = False, calibrated: bool = True) -> np.ndarray: ...


def evaluate(source: str | Path, analyzer: Analyzer, split: str | None = None, label_mode: LabelMode = "fer2013",
             tta: Optional[bool] = None, find_faces: bool = False, batch_size: int = 256, progress: bool = False,
             present_labels: bool = False) -> dict[str, Any]:
    """Classify every labelled image of ``source`` and summarise the result.

    Args:
        source: anything :func:`emolens.datasets.load_dataset` reads (a class-per-folder tree, a FER2013 CSV,
            the FER+ reference folder).
        analyzer: the analyzer (the model, and the detector when ``find_faces``).
        split: ``train``, ``val`` or ``test`` of a source that has splits; None for a plain folder.
        label_mode: for FER+ sources, ``fer2013`` (original labels), ``majority`` or ``soft`` (FER+ votes; see
            :data:`emolens.datasets.options.LabelMode`).
        tta: average predictions over test-time augmented views (None: the analyzer's setting).
        find_faces: classify the largest face the analyzer finds in each image (its one analysis path,
            :meth:`~emolens.pipeline.analyzer.Analyzer.analyze` with ``max_faces=1``); False: every image is a
            face crop already, classified whole in batches.
        present_labels: also score with predictions restricted to the labels present in the data.

    Returns the :func:`~emolens.evaluation.metrics.summarize` dict plus ``protocol`` (``all_labels``: the
    model's top class among all its labels), ``no_face`` (images with no face found, left out of the metrics),
    ``skipped`` (images whose class the model does not know), ``tta`` and ``class_balance`` (of the scores: see
    :attr:`~emolens.pipeline.options.AnalyzerOptions.class_balance`); with ``present_labels``, also
    ``present_labels``: the same metrics over the present labels only, with ``protocol`` ``present_labels``
    and ``labels``.
    """
    tta = analyzer.tta if tta is None else tta
    dataset = load_dataset(source, split, label_mode=label_mode, label_names=analyzer.labels)
    model_index = {name.lower(): i for i, name in enumerate(analyzer.labels)}
    data_to_model = np.array([model_index.get(n.lower(), -1) for n in dataset.label_names])
    skipped = sum(count for reason, count in dataset.skipped.items() if reason != FERPLUS_EXCLUDED)
    y_true_all = data_to_model[dataset.label_ids]
    skipped += int((y_true_all < 0).sum())
    images = [dataset.images[i] for i in np.flatnonzero(y_true_all >= 0)]
    truth = y_true_all[y_true_all >= 0].astype(np.int64)
    no_face = 0
    if find_faces:
        found, probs = largest_faces(analyzer, images, tta, progress)
        no_face, truth = len(truth) - len(found), truth[found]
    else:
        probs = classify_in_batches(analyzer, images, tta, batch_size, progress)
    summary = {"protocol": "all_labels", **summarize(truth, probs.argmax(axis=1), analyzer.labels),
               "no_face": no_face, "skipped": skipped, "tta": tta, "class_balance": analyzer.class_balance}
    if present_labels:
        summary["present_labels"] = summarize_present_labels(truth, probs, analyzer.labels)
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


def largest_faces(analyzer: Analyzer, images: Sequence[np.ndarray], tta: bool,
                  progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the images where the analyzer finds a face, and the class probabilities ``(N, C)`` of the
    largest face of each."""
    found, probs = [], []
    for i, image in enumerate(tqdm(images, desc="finding faces", disable=not progress, unit="image")):
        faces = analyzer.analyze(image, tta=tta, max_faces=1)
        if faces:
            found.append(i)
            probs.append([faces[0].scores[label] for label in analyzer.labels])
    return np.asarray(found, np.int64), np.asarray(probs, np.float32).reshape(len(found), len(analyzer.labels))


def classify_in_batches(classifier: Classifies, crops: Sequence[np.ndarray], tta: bool, batch_size: int,
                        progress: bool, calibrated: bool = True) -> np.ndarray:
    """Class probabilities ``(N, C)`` of the crops (``calibrated``: see
    :meth:`~emolens.emotion.classifier.EmotionClassifier.predict_inputs`)."""
    probs = [classifier.predict_proba(crops[start:start + batch_size], tta=tta, calibrated=calibrated)
             for start in tqdm(range(0, len(crops), batch_size), desc="classifying", disable=not progress,
                               unit="batch")]
    return np.concatenate(probs) if probs else np.zeros((0, len(classifier.labels)), np.float32)
