"""The class balance chosen at run time: stored calibration points, the options and flags that choose one, models
that store none, and real FER faces called neutral less often at a higher balance."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from emolens.cli.main import cli
from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration, ModelInfo
from emolens.emotion.preprocessing import Preprocessing
from emolens.errors import ConfigError
from emolens.pipeline.analyzer import Analyzer
from emolens.pipeline.options import AnalyzerOptions
from emolens.training.calibrate import write_model_info

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SHIPPED_BIAS = (-0.0786, 0.8214, -0.0786, -0.2286, -0.1786, -0.0786, -0.1786)
"""The bundled model's class bias at balance 0.5, as it shipped before the other balances were stored."""


def bias(*values: float) -> tuple[float, ...]:
    return tuple(values) + (0.0,) * (len(LABELS) - len(values))


POINTS = (Calibration(0.5, bias(0.2), 0.0), Calibration(0.6, bias(0.0, 0.4), 0.5), Calibration(0.8, bias(-0.2), 1.0))
STORED = dataclasses.replace(POINTS[1], points=POINTS)


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def old_format_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled network with a calibration as `emolens calibrate` wrote it before balances were stored: the
    temperature and bias only, the balance named among the provenance facts."""
    classifier = EmotionClassifier()
    info = dataclasses.replace(classifier.model_info, calibration=Calibration(0.5037, SHIPPED_BIAS))
    path = tmp_path_factory.mktemp("old") / "old.onnx"
    write_model_info(classifier.model_path, path, info)
    props = info.to_properties()
    assert "emolens.class_balances" not in props and json.loads(props["emolens.info"])["class_balance"] == "0.5"
    return path


@pytest.fixture(scope="module")
def fer_faces(fer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Up to 50 privatetest faces of each class (FER+ majority labels), as DIR/<label>/<index>.png: every class
    has enough faces for the stratified split of a tree without split folders (``--split train``)."""
    data = load_dataset(fer_dir, "test", label_mode="majority")
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(5)
    chosen = [rng.choice(np.flatnonzero(data.label_ids == c), min(50, int((data.label_ids == c).sum())),
                         replace=False) for c in range(len(data.label_names))]
    for i in np.concatenate(chosen):
        folder = root / data.label_names[data.label_ids[i]]
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), data.images[i])
    return root


def test_stored_points_round_trip_through_model_metadata() -> None:
    info = ModelInfo(LABELS, Preprocessing(), {"class_balance": "0.5"}, STORED)
    assert ModelInfo.from_properties(info.to_properties()) == info
    default = {"temperature": 0.6, "logit_bias": list(bias(0.0, 0.4))}
    assert info.to_properties()["emolens.calibration"] == json.dumps(default)  # what older readers load


def test_an_old_format_model_loads_with_its_balance_as_default(old_format_model: Path) -> None:
    classifier = EmotionClassifier(old_format_model)
    assert classifier.calibration == Calibration(0.5037, SHIPPED_BIAS, 0.5)
    assert classifier.class_balance == 0.5
    assert EmotionClassifier(old_format_model, class_balance=0.5).class_balance == 0.5
    with pytest.raises(ConfigError, match="old.onnx: this model stores its class bias for class balance 0.5 only"):
        EmotionClassifier(old_format_model, class_balance=1.0)


def test_a_model_without_bias_says_no_balance() -> None:
    bare = ModelInfo(LABELS, Preprocessing(), {"class_balance": "0.5"}, Calibration(0.7))  # a stale provenance fact
    assert ModelInfo.from_properties(bare.to_properties()).calibration == Calibration(0.7)
    with pytest.raises(ConfigError, match="stores no class bias"):
        bare.calibration.at(0.5)
    assert bare.calibration.at(None) is bare.calibration


def test_a_balance_between_stored_points_is_interpolated() -> None:
    assert STORED.at(None) is STORED and STORED.at(0.5) is STORED
    assert STORED.at(0.0) == POINTS[0] and STORED.at(1.0) == POINTS[2]
    middle = STORED.at(0.75)
    assert middle.class_balance == 0.75 and middle.temperature == pytest.approx(0.7)
    assert middle.logit_bias == pytest.approx(bias(-0.1, 0.2))
    quarter = STORED.at(0.125)
    assert quarter.logit_bias == pytest.approx(bias(0.15, 0.1)) and quarter.temperature == pytest.approx(0.525)


def test_stored_points_are_validated() -> None:
    for bad, words in [((Calibration(1.0, (0.1,), 0.5),), "1 logit biases for 7 labels"),
                       ((POINTS[1], POINTS[0]), "increasing order"), ((POINTS[0], POINTS[0]), "distinct"),
                       ((Calibration(1.0, (), 1.5),), "between 0 and 1"), ((Calibration(-1.0, (), 0.5),), "positive")]:
        with pytest.raises(ValueError, match=words):
            ModelInfo(LABELS, Preprocessing(), calibration=dataclasses.replace(POINTS[1], points=bad))


def test_a_stored_model_refuses_balances_outside_its_points() -> None:
    narrow = dataclasses.replace(POINTS[1], points=POINTS[:2])
    with pytest.raises(ConfigError, match="outside what this model stores .0 to 0.5."):
        narrow.at(0.75)


@pytest.mark.parametrize("value", [1.5, -0.1, "0.5", True, math.nan, [0.5]])
def test_options_check_the_class_balance(value: object) -> None:
    with pytest.raises(ConfigError, match="class_balance must be a number from 0"):
        AnalyzerOptions(class_balance=value)  # type: ignore[arg-type]


def test_options_take_a_class_balance() -> None:
    assert AnalyzerOptions(class_balance=1).class_balance == 1.0
    assert AnalyzerOptions().class_balance is None
    assert pickle.loads(pickle.dumps(AnalyzerOptions(class_balance=0.25))).class_balance == 0.25  # to batch actors


def test_the_bundled_model_stores_five_balances_and_keeps_its_default() -> None:
    calibration = EmotionClassifier().model_info.calibration
    assert [p.class_balance for p in calibration.points] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert (calibration.class_balance, calibration.temperature, calibration.logit_bias) == (0.5, 0.5037, SHIPPED_BIAS)
    assert calibration.at(0.5) is calibration and calibration.points[2] == Calibration(0.5037, SHIPPED_BIAS, 0.5)
    neutral = LABELS.index("neutral")
    pushed_down = [p.logit_bias[neutral] - np.mean(p.logit_bias) for p in calibration.points]
    assert pushed_down[-1] < pushed_down[2] < pushed_down[0]


def test_the_analyzer_applies_the_balance_per_call(fer_dir: Path) -> None:
    faces = load_dataset(fer_dir, "test", label_mode="majority").images[:50]
    with Analyzer(class_balance=1.0) as expressive, Analyzer() as everyday:
        assert expressive.class_balance == 1.0 and everyday.class_balance == 0.5
        assert everyday.resolve_class_balance(0.6) == 0.6
        np.testing.assert_array_equal(expressive.predict_proba(faces), everyday.predict_proba(faces, class_balance=1))
        assert not np.allclose(expressive.predict_proba(faces), everyday.predict_proba(faces))
        with pytest.raises(ConfigError):
            everyday.classify(faces[:1], class_balance=2.0)


def test_evaluate_predicts_neutral_less_often_at_balance_1(fer_faces: Path) -> None:
    """The done-when check of the issue, on real FER faces: both runs work, and the higher balance calls fewer of
    the same faces neutral."""
    summaries = {}
    for extra in ([], ["--class-balance", "1"]):
        result = run("evaluate", str(fer_faces), "--crops", "--no-tta", *extra)
        assert result.exit_code == 0, result.output
        summaries[tuple(extra)] = json.loads(result.stdout)
    default, expressive = summaries[()], summaries[("--class-balance", "1")]
    assert (default["class_balance"], expressive["class_balance"]) == (0.5, 1.0)
    assert default["n"] == expressive["n"] == len(list(fer_faces.glob("*/*.png")))
    neutral = LABELS.index("neutral")
    called_neutral = {k: sum(row[neutral] for row in s["confusion"]) for k, s in summaries.items()}
    assert called_neutral[("--class-balance", "1")] < called_neutral[()], called_neutral


def test_analyze_says_which_balance_scored_its_results(fer_faces: Path, tmp_path: Path) -> None:
    files = sorted(fer_faces.glob("*/*.png"))[:5]
    result = run("analyze", *map(str, files), "--crops", "--json", "--class-balance", "0.25")
    assert result.exit_code == 0, result.output
    assert [r["class_balance"] for r in json.loads(result.stdout)] == [0.25] * 5
    table = tmp_path / "faces.csv"
    assert run("analyze", *map(str, files), "--crops", "--csv", str(table)).exit_code == 0
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["class_balance"] for r in rows] == ["0.5"] * 5


def test_a_model_without_the_balance_is_one_line_in_the_cli(old_format_model: Path, fer_faces: Path) -> None:
    face = str(next(fer_faces.glob("*/*.png")))
    result = run("analyze", face, "--crops", "--model", str(old_format_model), "--class-balance", "1")
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "class balance 0.5 only" in result.stderr
    result = run("analyze", face, "--crops", "--class-balance", "1.5")
    assert result.exit_code == 2 and "class_balance must be a number from 0" in result.stderr


def test_calibrate_stores_the_balances_asked_for(fer_faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "calibrated.onnx"
    result = run("calibrate", str(EmotionClassifier().model_path), str(fer_faces), "--split", "train",
                 "--class-balance", "0.5", "--class-balances", "0,1", "--out", str(out))
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.stdout)
    stored = EmotionClassifier(out).model_info.calibration
    assert [p.class_balance for p in stored.points] == [0.0, 0.5, 1.0] and stored.class_balance == 0.5
    assert [p["class_balance"] for p in fitted["class_balances"]] == [0.0, 0.5, 1.0]
    assert stored == dataclasses.replace(stored.points[1], points=stored.points)
    assert stored.points[2].logit_bias == pytest.approx(tuple(fitted["class_balances"][2]["logit_bias"].values()))
    assert EmotionClassifier(out, class_balance=0.75).calibration.class_balance == 0.75


def test_calibrate_refuses_bad_balances(tmp_path: Path) -> None:
    model = str(EmotionClassifier().model_path)
    result = run("calibrate", model, str(tmp_path), "--class-balances", "0,2", "--out", str(tmp_path / "x.onnx"))
    assert result.exit_code == 2 and "from 0 to 1" in result.stderr
    result = run("calibrate", model, str(tmp_path), "--class-balances", "0,a", "--out", str(tmp_path / "x.onnx"))
    assert result.exit_code == 2 and "separated by commas" in result.stderr


@pytest.mark.parametrize("command", ["analyze", "video", "webcam", "batch", "evaluate"])
def test_every_analysing_command_takes_the_flag(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0 and "--class-balance" in result.output and "mostly neutral" in result.output
