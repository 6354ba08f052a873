""""Why this emotion?": occlusion maps on ONNX Runtime, checked for meaning on real privatetest faces, placed
over the face in the image, and written by ``emolens analyze --explain``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from support.helpers import KERNEL_ORDER_ABS

from emolens import Analyzer
from emolens.cli.main import cli
from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.explain import CELLS, explain_crops, occlusion_maps
from emolens.emotion.preprocessing import normalize
from emolens.evaluation.explanations import deletion_check
from emolens.pipeline.explain import CropRegion
from emolens.pipeline.results import Face


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(threads=2)


@pytest.fixture(scope="module")
def classifier() -> EmotionClassifier:
    """The bundled model alone, for the crop-level functions of emolens.emotion (the Analyzer keeps its own)."""
    return EmotionClassifier(threads=2)


@pytest.fixture(scope="module")
def private_faces(fer_dir: Path) -> list[np.ndarray]:
    """200 privatetest faces drawn at random (seeded)."""
    data = load_dataset(fer_dir / "privatetest")
    return [data.images[i] for i in np.random.default_rng(1).choice(len(data), 200, replace=False)]


def test_grid_shape_and_explained_class(classifier: EmotionClassifier, private_faces: list[np.ndarray]) -> None:
    crops = private_faces[:3]
    explanations = explain_crops(classifier, crops)
    probs = classifier.predict_proba(crops)
    for explanation, p in zip(explanations, probs, strict=True):
        # the explanation's batch (17 copies per crop) may sum in another order than this one (KERNEL_ORDER_ABS),
        # which can only swap two classes closer than twice that
        top, second = np.sort(p)[::-1][:2]
        if top - second > 2 * KERNEL_ORDER_ABS:
            assert explanation.label == classifier.labels[int(p.argmax())]
        assert explanation.probability == pytest.approx(float(p[classifier.labels.index(explanation.label)]),
                                                        abs=KERNEL_ORDER_ABS)
        assert explanation.grid.shape == (CELLS, CELLS) and np.isfinite(explanation.grid).all()
    asked = explain_crops(classifier, crops[:1], ["neutral"])[0]
    assert asked.label == "neutral"
    data = json.loads(json.dumps(asked.to_dict()))
    assert len(data["grid"]) == CELLS and all(len(row) == CELLS for row in data["grid"])


def test_one_patch_hides_one_neighbourhood(classifier: EmotionClassifier, private_faces: list[np.ndarray]) -> None:
    """With 1-cell patches, each cell's value is exactly the drop when that cell alone is grey."""
    crop = private_faces[0]
    maps, targets, probs = occlusion_maps(classifier, [crop], cells=4, patch_cells=1)
    prep = classifier.preprocessing
    size = prep.input_size
    resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
    resized[size // 4:size // 2, 3 * size // 4:] = 128  # row 1, column 3
    hidden = classifier.predict_inputs(normalize(resized[None], prep))[0, targets[0]]
    # the same occluded input in a batch of 17 and alone: another summing order at most (KERNEL_ORDER_ABS)
    assert maps[0, 1, 3] == pytest.approx(probs[0, targets[0]] - hidden, abs=KERNEL_ORDER_ABS)


def test_hiding_the_salient_fifth_hurts_more_than_a_random_fifth(classifier: EmotionClassifier,
                                                                  private_faces: list[np.ndarray]) -> None:
    """The deletion check on 200 real faces (benchmarks/explain.py prints it for 240: margin 0.229)."""
    result = deletion_check(classifier, private_faces, fraction=0.2)
    assert result["n"] == 200
    assert result["salient_drop"] > 2 * result["random_drop"]
    assert result["margin"] > 0.15, result


def test_region_maps_crop_pixels_to_the_image() -> None:
    face = Face((100, 50, 40, 40), ((110.0, 60.0), (130.0, 80.0)), "happy", {"happy": 1.0})
    region = CropRegion.of(face, margin=0.25)
    assert region.center == (120.0, 70.0) and region.side == 60.0 and region.angle == pytest.approx(45.0)
    matrix = region.to_image(60)
    centre = matrix @ np.array([30.0, 30.0, 1.0])
    right = matrix @ np.array([60.0, 30.0, 1.0])
    assert centre == pytest.approx([120.0, 70.0])
    assert right - centre == pytest.approx([30 / np.sqrt(2), 30 / np.sqrt(2)])  # the crop's x axis: along the eyes


def test_analyzer_explain_and_cli_overlays(analyzer: Analyzer, photos_dir: Path, tmp_path: Path) -> None:
    photo = photos_dir / "deepface_couple.jpg"
    explained = analyzer.explain(photo)
    assert [e.face for e in explained] == analyzer.analyze(photo)
    assert len(explained) == 2 and all(e.explanation.label == e.face.emotion for e in explained)
    out = tmp_path / "why"
    result = CliRunner().invoke(cli, ["analyze", str(photo), "--explain", str(out), "--json"])
    assert result.exit_code == 0, result.output
    faces = json.loads(result.output)[0]["faces"]
    assert [f["explanation"]["label"] for f in faces] == [e.face.emotion for e in explained]
    overlay, original = cv2.imread(str(out / "deepface_couple.jpg")), cv2.imread(str(photo))
    assert overlay.shape == original.shape
    x, y, w, h = explained[0].face.box
    inside = np.abs(overlay[y:y + h, x:x + w].astype(int) - original[y:y + h, x:x + w]).mean()
    assert inside > 5  # the heat map is drawn over the face
    refused = CliRunner().invoke(cli, ["analyze", str(photo), "--explain", str(out), "--crops"])
    assert refused.exit_code == 2 and "--explain" in refused.output
