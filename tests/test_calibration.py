"""Calibration: stored temperature and class bias, ECE, the fits, and `emolens calibrate` on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import balanced_accuracy_score

from emolens.cli.main import cli
from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration, ModelInfo
from emolens.emotion.preprocessing import Preprocessing
from emolens.evaluation.calibration import expected_calibration_error, fit_logit_bias, fit_temperature

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.fixture(scope="module")
def publictest_probs(fer_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The bundled model's own (uncalibrated) probabilities on 1,500 publictest faces, and their labels."""
    data = load_dataset(fer_dir, "val", label_mode="majority")
    pick = np.random.default_rng(7).choice(len(data), 1500, replace=False)
    probs = EmotionClassifier().predict_proba([data.images[i] for i in pick], calibrated=False)
    return probs, data.label_ids[pick]


def test_calibration_round_trips_through_model_metadata() -> None:
    info = ModelInfo(LABELS, Preprocessing(input_size=96, source_size=48), {"backbone": "x"},
                     Calibration(1.3, (0.0, 0.1, 0.2, 0.0, -0.1, 0.3, -0.4)))
    assert ModelInfo.from_properties(info.to_properties()) == info
    legacy = {k: v for k, v in info.to_properties().items() if k != "emolens.calibration"}
    assert ModelInfo.from_properties(legacy).calibration == Calibration()


def test_calibration_is_validated() -> None:
    with pytest.raises(ValueError, match="3 logit biases for 7 labels"):
        ModelInfo(LABELS, Preprocessing(), calibration=Calibration(1.0, (0.0, 0.1, 0.2)))
    with pytest.raises(ValueError, match="temperature must be positive"):
        ModelInfo(LABELS, Preprocessing(), calibration=Calibration(0.0))


def test_temperature_softens_without_changing_the_ranking(publictest_probs: tuple[np.ndarray, np.ndarray]) -> None:
    probs, _ = publictest_probs
    softer = Calibration(2.0).apply(probs)
    assert np.allclose(softer.sum(axis=1), 1, atol=1e-5)
    assert (softer.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert softer.max(axis=1).mean() < probs.max(axis=1).mean()


def test_a_fitted_temperature_lowers_ece_on_held_out_faces(publictest_probs: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = publictest_probs
    fit, held_out = slice(0, 1000), slice(1000, None)
    temperature = fit_temperature(probs[fit], labels[fit])
    before = expected_calibration_error(probs[held_out], labels[held_out])
    after = expected_calibration_error(Calibration(temperature).apply(probs[held_out]), labels[held_out])
    assert after < before, (temperature, before, after)


def test_ece_of_known_cases() -> None:
    labels = np.array([0, 0, 1, 1])
    honest = np.array([[0.75, 0.25]] * 4)  # 75 % confident, right half the time: gap 0.25
    assert expected_calibration_error(honest, labels) == pytest.approx(0.25)
    perfect = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, labels) == pytest.approx(0.0)


def test_logit_bias_undoes_a_class_pushed_up(publictest_probs: tuple[np.ndarray, np.ndarray]) -> None:
    """Neutral pushed up by one logit on real predictions: the fitted bias pulls it most of the way back down to
    where the bias fitted on the untouched predictions puts it, and wins back the accuracy the push cost."""
    probs, labels = publictest_probs
    neutral = LABELS.index("neutral")
    pushed = Calibration(1.0, tuple(1.0 if i == neutral else 0.0 for i in range(7))).apply(probs)
    undone = Calibration(1.0, fit_logit_bias([pushed], labels)).apply(pushed)
    fitted = Calibration(1.0, fit_logit_bias([probs], labels)).apply(probs)
    neutral_share = lambda p: float((p.argmax(axis=1) == neutral).mean())  # noqa: E731
    assert neutral_share(pushed) > neutral_share(fitted) + 0.05
    assert neutral_share(undone) < (neutral_share(pushed) + neutral_share(fitted)) / 2  # most of the way back
    accuracy = lambda p: float((p.argmax(axis=1) == labels).mean())  # noqa: E731
    assert accuracy(undone) > accuracy(pushed) + 0.01
    assert accuracy(undone) > accuracy(fitted) - 0.01


def test_class_balance_raises_per_class_recall(publictest_probs: tuple[np.ndarray, np.ndarray]) -> None:
    """Fitted for every class equally common, the bias recovers more of the rare classes (mean per-class recall
    up) and pulls neutral, the largest class, further down than a bias fitted for the data's own frequencies."""
    probs, labels = publictest_probs
    fitted = {balance: fit_logit_bias([probs], labels, balance) for balance in (0.0, 1.0)}
    recall = {balance: balanced_accuracy_score(labels, Calibration(1.0, bias).apply(probs).argmax(axis=1))
              for balance, bias in fitted.items()}
    assert recall[1.0] > recall[0.0] + 0.01, recall
    neutral = LABELS.index("neutral")
    assert fitted[1.0][neutral] < fitted[0.0][neutral], fitted


def test_temperature_does_not_move_the_bias(publictest_probs: tuple[np.ndarray, np.ndarray]) -> None:
    """The bias is fitted on log-probabilities at temperature 1: any temperature keeps the top emotion it chose."""
    probs, _ = publictest_probs
    bias = (0.0, 0.5, 0.5, -0.3, 0.0, 0.2, -0.6)
    chosen = Calibration(1.0, bias).apply(probs).argmax(axis=1)
    for temperature in (0.5, 2.0):
        assert (Calibration(temperature, bias).apply(probs).argmax(axis=1) == chosen).all()


def test_calibrate_command_stores_a_calibration(fer_dir: Path, tmp_path: Path) -> None:
    """`emolens calibrate` on a small folder of real publictest faces writes a model that carries the fit."""
    data = load_dataset(fer_dir, "val", label_mode="majority")
    pick = np.random.default_rng(3).choice(len(data), 300, replace=False)
    for i in pick:
        folder = tmp_path / "faces" / data.label_names[data.label_ids[i]]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), data.images[i])
    out = tmp_path / "calibrated.onnx"
    result = CliRunner().invoke(cli, ["calibrate", str(EmotionClassifier().model_path), str(tmp_path / "faces"),
                                      "--split", "train", "--no-bias", "--out", str(out)])
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.output)
    stored = EmotionClassifier(out).model_info
    assert stored.calibration.temperature == pytest.approx(fitted["temperature"])
    # a tree without split folders: its train split is 80% of it (emolens.datasets.splits)
    assert fitted["n"] == 240 and fitted["ece_after"] <= fitted["ece_before"] + 1e-9
    assert stored.labels == EmotionClassifier().labels
    assert "class_balance" not in stored.info and stored.calibration.class_balance is None  # no bias, no balance


def test_max_ratio_keeps_every_class_near_its_frequency(publictest_probs: tuple[np.ndarray, np.ndarray]) -> None:
    """Fitted for equally common classes, the bias over-predicts the rarest class (disgust: under 1 % of FER+);
    with ``max_ratio`` no class is predicted more than 1.5 times as often as it occurs, and the bias still
    raises the mean per-class recall above the bias fitted for the data's own frequencies."""
    probs, labels = publictest_probs
    worst = lambda bias: float((np.bincount(Calibration(1.0, bias).apply(probs).argmax(axis=1), minlength=7)  # noqa: E731
                                / np.bincount(labels, minlength=7)).max())
    recall = lambda bias: balanced_accuracy_score(labels, Calibration(1.0, bias).apply(probs).argmax(axis=1))  # noqa: E731
    free = fit_logit_bias([probs], labels, 1.0)
    capped = fit_logit_bias([probs], labels, 1.0, max_ratio=1.5)
    assert worst(free) > 1.5 >= worst(capped), (free, capped)
    assert recall(capped) > recall(fit_logit_bias([probs], labels, 0.0)) + 0.01
