"""``emolens ensemble``: one ONNX file whose output is the mean of its members' probabilities."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from support.helpers import KERNEL_ORDER_ABS

onnx = pytest.importorskip("onnx", reason="ensembles need the [train] extra (onnx)")

from onnx import numpy_helper  # noqa: E402

from emolens.cli.main import cli  # noqa: E402
from emolens.datasets import load_dataset  # noqa: E402
from emolens.emotion.classifier import EmotionClassifier, default_model_path  # noqa: E402
from emolens.errors import ModelError  # noqa: E402
from emolens.training.calibrate import write_model_info  # noqa: E402
from emolens.training.ensemble import ensemble_onnx  # noqa: E402


def _other_member(tmp_path: Path) -> Path:
    """The bundled model with the bias of its last layer changed: another member that disagrees."""
    model = onnx.load(str(default_model_path()))
    last_bias = [i for i in model.graph.initializer if list(i.dims) == [7]][-1]
    values = numpy_helper.to_array(last_bias).copy()
    values[[1, 2]] += 1.5  # disgust and fear
    last_bias.CopyFrom(numpy_helper.from_array(values, last_bias.name))
    path = tmp_path / "other.onnx"
    onnx.save(model, str(path))
    return path


def test_an_ensemble_outputs_the_mean_of_its_members(fer_dir: Path, tmp_path: Path) -> None:
    other = _other_member(tmp_path)
    result = CliRunner().invoke(cli, ["ensemble", str(default_model_path()), str(other), "--out",
                                      str(tmp_path / "both.onnx")])
    assert result.exit_code == 0, result.output
    faces = load_dataset(fer_dir, "test").images[:96]
    first, second, both = (EmotionClassifier(p).predict_proba(faces, calibrated=False)
                           for p in (default_model_path(), other, tmp_path / "both.onnx"))
    assert np.abs(first - second).max() > 0.05  # the members really differ
    # one graph holding both members may be fused and batched otherwise than each alone: another summing order
    assert np.allclose(both, (first + second) / 2, rtol=0, atol=KERNEL_ORDER_ABS)
    ensemble = EmotionClassifier(tmp_path / "both.onnx")
    assert ensemble.labels == EmotionClassifier().labels
    assert ensemble.model_info.info["ensemble"] == "default.onnx + other.onnx"
    assert ensemble.model_info.calibration.temperature == 1.0  # to be calibrated as one model


def test_members_must_share_labels_and_preprocessing(tmp_path: Path) -> None:
    bundled = EmotionClassifier().model_info
    looser = dataclasses.replace(bundled, preprocessing=dataclasses.replace(bundled.preprocessing, crop_margin=0.2))
    write_model_info(default_model_path(), tmp_path / "looser.onnx", looser)
    with pytest.raises(ModelError, match="preprocessing differ"):
        ensemble_onnx([default_model_path(), tmp_path / "looser.onnx"], tmp_path / "both.onnx")
    assert not (tmp_path / "both.onnx").exists()
    result = CliRunner().invoke(cli, ["ensemble", str(default_model_path()), str(tmp_path / "nope.onnx"), "--out",
                                      str(tmp_path / "both.onnx")])
    assert result.exit_code != 0 and "nope.onnx: no such model file" in result.output
    assert "Traceback" not in result.output
