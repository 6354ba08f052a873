"""A short real training run end to end: train, resume, export to ONNX, and PyTorch/ONNX agreement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the [train] extra (PyTorch)")

from emolens.datasets import load_dataset  # noqa: E402
from emolens.emotion.classifier import EmotionClassifier  # noqa: E402
from emolens.emotion.preprocessing import prepare_crops  # noqa: E402
from emolens.training.config import TrainConfig  # noqa: E402
from emolens.training.export import export_onnx, load_checkpoint  # noqa: E402
from emolens.training.trainer import train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_run(fer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the smoke config (a few hundred real FER+ faces) for one epoch, then resume for the second."""
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig.load(REPO / "configs" / "smoke.toml")
    first = train(fer_dir, config, out, progress=False, stop_after=1)
    assert first.epochs_done == 1
    assert len(json.loads((out / "history.json").read_text())) == 1
    with pytest.raises(FileExistsError, match="--resume"):
        train(fer_dir, config, out, progress=False)
    second = train(fer_dir, config, out, resume=True, progress=False)
    assert second.epochs_done == config.epochs == 2
    return out


def test_run_writes_checkpoints_history_and_curves(smoke_run: Path) -> None:
    history = json.loads((smoke_run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert [h["stage"] for h in history] == ["head", "all"]
    assert all(0 <= h["val_accuracy"] <= 1 and np.isfinite(h["train_loss"]) for h in history)
    assert (smoke_run / "curves.png").stat().st_size > 10_000
    assert (smoke_run / "best.pt").is_file() and (smoke_run / "last.pt").is_file()


def test_resume_refuses_another_config(smoke_run: Path, fer_dir: Path) -> None:
    other = TrainConfig.from_dict({**TrainConfig.load(REPO / "configs" / "smoke.toml").to_dict(), "dropout": 0.5})
    with pytest.raises(ValueError, match="another config"):
        train(fer_dir, other, smoke_run, resume=True, progress=False)


def test_training_learns_something(smoke_run: Path) -> None:
    """Two epochs on 320 faces beat the majority-class rate of the validation sample (about 0.33)."""
    history = json.loads((smoke_run / "history.json").read_text())
    assert max(h["val_accuracy"] for h in history) > 0.36


@pytest.mark.parametrize("fp16_weights, tolerance", [(False, 1e-4), (True, 2e-2)])
def test_onnx_export_matches_pytorch(smoke_run: Path, fer_dir: Path, tmp_path: Path, fp16_weights: bool,
                                     tolerance: float) -> None:
    onnx_path = tmp_path / "model.onnx"
    info = export_onnx(smoke_run / "best.pt", onnx_path, crop_margin=0.1, fp16_weights=fp16_weights)
    classifier = EmotionClassifier(onnx_path)
    assert classifier.labels == info.labels == load_dataset(fer_dir, "val", label_mode="majority").label_names
    assert classifier.preprocessing.crop_margin == 0.1 and classifier.preprocessing.input_size == 48
    crops = load_dataset(fer_dir / "privatetest").images[:64]
    model, _, _, _ = load_checkpoint(smoke_run / "best.pt")
    with torch.inference_mode():
        expected = torch.softmax(model(torch.from_numpy(prepare_crops(crops, classifier.preprocessing))), 1).numpy()
    got = classifier.predict_proba(crops)
    assert got.shape == (64, 7)
    assert np.abs(got - expected).max() < tolerance
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.95


def test_init_from_fine_tunes_at_another_input_size(smoke_run: Path, fer_dir: Path, tmp_path: Path) -> None:
    """Progressive resizing: the 48 px run's weights start a 56 px run (a zero learning rate keeps them as loaded)."""
    base = TrainConfig.load(REPO / "configs" / "smoke.toml").to_dict()
    config = TrainConfig.from_dict({**base, "input_size": 56, "init_from": str(smoke_run / "best.pt"),
                                    "stages": [{"unfreeze": "all", "epochs": 1, "lr": 0.0}]})
    result = train(fer_dir, config, tmp_path / "resized", progress=False)
    resized, loaded_config, _, _ = load_checkpoint(result.best_checkpoint)
    original, _, _, _ = load_checkpoint(smoke_run / "best.pt")
    assert loaded_config.input_size == 56
    for name, value in original.state_dict().items():
        if name.endswith("weight") and value.ndim > 1:
            assert torch.equal(resized.state_dict()[name], value), name


def test_init_from_refuses_a_missing_checkpoint(fer_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig.from_dict({**TrainConfig.load(REPO / "configs" / "smoke.toml").to_dict(),
                                    "init_from": str(tmp_path / "nope.pt")})
    with pytest.raises(FileNotFoundError, match="nope.pt: no such checkpoint"):
        train(fer_dir, config, tmp_path / "run", progress=False)
