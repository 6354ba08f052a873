"""Evaluation: metrics on a hand-checked case, and the CLI's JSON and report on real crops."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from emolens.cli.main import cli
from emolens.evaluation.metrics import summarize


def test_summary_on_a_hand_checked_case() -> None:
    labels = ("a", "b", "c")
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    summary = summarize(y_true, y_pred, labels)
    assert summary["n"] == 6
    assert summary["accuracy"] == pytest.approx(4 / 6)
    # a: precision 2/2, recall 2/3; b: precision 1/2, recall 1/2; c: precision 1/2, recall 1/1
    assert summary["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert summary["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert summary["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert summary["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert summary["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_evaluate_cli_json_and_report(tmp_path: Path, fer_dir: Path) -> None:
    """Crops of three known classes plus one class the model lacks: that one is skipped and counted."""
    data = tmp_path / "data"
    for emotion in ("happy", "surprise", "neutral"):
        (data / emotion).mkdir(parents=True)
        for png in sorted((fer_dir / "privatetest" / emotion).glob("*.png"))[:20]:
            shutil.copy(png, data / emotion / png.name)
    (data / "contempt").mkdir()
    for png in sorted((fer_dir / "privatetest" / "sad").glob("*.png"))[:4]:
        shutil.copy(png, data / "contempt" / png.name)
    report = tmp_path / "report"
    result = CliRunner().invoke(cli, ["evaluate", str(data), "--crops", "--no-tta", "--report", str(report)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n"] == 60 and summary["skipped"] == 4 and summary["no_face"] == 0 and summary["tta"] is False
    assert {c: summary["per_class"][c]["support"] for c in ("happy", "surprise", "neutral", "sad")} == {
        "happy": 20, "surprise": 20, "neutral": 20, "sad": 0}
    confusion = np.array(summary["confusion"])
    assert confusion.sum() == 60
    assert summary["accuracy"] == pytest.approx(np.trace(confusion) / 60)
    assert json.loads((report / "summary.json").read_text()) == summary
    assert (report / "confusion_matrix.png").stat().st_size > 10_000
    assert "| happy |" in (report / "per_class.md").read_text()


def test_evaluate_cli_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "missing"), "--crops"])
    assert result.exit_code == 1
    assert "missing: no such file or folder" in result.output


def test_present_labels_beside_the_plain_figure(tmp_path: Path, fer_dir: Path) -> None:
    """Three of the seven classes: restricting predictions to them can only raise accuracy, and the plain
    figure stays in the JSON, each part naming its protocol."""
    data = tmp_path / "data"
    for emotion in ("happy", "sad", "neutral"):
        (data / emotion).mkdir(parents=True)
        for png in sorted((fer_dir / "privatetest" / emotion).glob("*.png"))[:20]:
            shutil.copy(png, data / emotion / png.name)
    report = tmp_path / "report"
    result = CliRunner().invoke(cli, ["evaluate", str(data), "--crops", "--no-tta", "--present-labels",
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    present = summary["present_labels"]
    assert summary["protocol"] == "all_labels" and len(summary["per_class"]) == 7
    assert present["protocol"] == "present_labels" and present["labels"] == ["happy", "sad", "neutral"]
    assert list(present["per_class"]) == present["labels"] and np.array(present["confusion"]).shape == (3, 3)
    assert present["n"] == summary["n"] == 60
    assert present["accuracy"] >= summary["accuracy"]
    assert np.trace(present["confusion"]) >= np.trace(summary["confusion"])
    assert (report / "confusion_matrix_present_labels.png").stat().st_size > 10_000
    assert "restricted to the labels present" in (report / "per_class.md").read_text()
    plain = json.loads(CliRunner().invoke(cli, ["evaluate", str(data), "--crops", "--no-tta"]).stdout)
    assert "present_labels" not in plain and plain["accuracy"] == summary["accuracy"]
