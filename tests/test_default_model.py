"""The bundled model: it loads with no download, carries its metadata, and clears a generous accuracy floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier, default_model_path
from emolens.labels import FER2013_LABELS

SAMPLE_SIZE, SAMPLE_SEED = 1000, 2026
FLOOR = 0.80  # FER+ majority labels; the model card reports the full privatetest figures


def test_bundled_model_metadata() -> None:
    classifier = EmotionClassifier()
    assert classifier.model_path == default_model_path()
    assert classifier.labels == FER2013_LABELS
    prep = classifier.preprocessing
    assert prep.input_size == 96 and prep.color == "gray" and 0 < prep.crop_margin < 0.5
    assert prep.source_size == 48  # trained on 48 px FER2013 faces: sharper crops are shrunk to that detail
    calibration = classifier.model_info.calibration
    assert calibration.temperature != 1.0 and len(calibration.logit_bias) == len(classifier.labels)
    assert default_model_path().stat().st_size < 25 * 2**20


def test_bundled_model_accuracy_floor_on_privatetest_sample(fer_dir: Path) -> None:
    """A fixed 1,000-image sample of FER2013 privatetest with FER+ majority labels, whole crops, no TTA."""
    data = load_dataset(fer_dir, "test", label_mode="majority")
    sample = np.random.default_rng(SAMPLE_SEED).choice(len(data), SAMPLE_SIZE, replace=False)
    classifier = EmotionClassifier()
    probs = classifier.predict_proba([data.images[i] for i in sample])
    accuracy = float((probs.argmax(1) == data.label_ids[sample]).mean())
    assert accuracy >= FLOOR, f"accuracy {accuracy:.3f} on the privatetest sample is under the floor {FLOOR}"
