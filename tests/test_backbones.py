"""The larger EfficientNets (B0..B7) as bring-your-own-weights backbones: a clear error without weights, random
initialisation only when asked for, weights loaded from a state dict, and a few real training steps and an ONNX
export for B0 and B4."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the [train] extra (PyTorch)")

from emolens.emotion.classifier import EmotionClassifier  # noqa: E402
from emolens.training.config import TrainConfig  # noqa: E402
from emolens.training.export import export_onnx  # noqa: E402
from emolens.training.model import EmotionNet  # noqa: E402
from emolens.training.trainer import train  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_tree(fer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 real FER2013 training faces per class in a folder-per-class tree (loading all of FER2013 takes longer
    than the training steps)."""
    root = tmp_path_factory.mktemp("faces")
    for folder in sorted((fer_dir / "train").iterdir()):
        (root / folder.name).mkdir()
        for png in sorted(folder.glob("*.png"))[:12]:
            shutil.copy(png, root / folder.name / png.name)
    return root


def few_steps_config(backbone: str, weights: str) -> TrainConfig:
    """The smoke config, cut to 2 steps of 16 faces at 48 px, all layers training."""
    base = TrainConfig.load(REPO / "configs" / "smoke.toml").to_dict()
    return TrainConfig.from_dict({**base, "backbone": backbone, "backbone_weights": weights, "max_train_images": 32,
                                  "batch_size": 16, "tta_val": False,
                                  "stages": [{"unfreeze": "all", "epochs": 1, "lr": 1e-3}]})


def test_b4_without_weights_names_the_setting() -> None:
    with pytest.raises(ValueError, match="backbone_weights"):
        EmotionNet("efficientnet-b4", 7, 48)
    with pytest.raises(FileNotFoundError, match="backbone_weights"):
        EmotionNet("efficientnet-b4", 7, 48, backbone_weights="/nonexistent/b4.pth")
    with pytest.raises(ValueError, match="unknown backbone"):
        EmotionNet("efficientnet-b9", 7, 48)


def test_weights_are_loaded_from_a_state_dict_and_checked(tmp_path: Path) -> None:
    source = EmotionNet("efficientnet-b0", 7, 48, backbone_weights="random")
    path = tmp_path / "b0.pth"
    torch.save(source.backbone.state_dict(), path)  # like EfficientNet-PyTorch's files, without the _fc layer
    loaded = EmotionNet("efficientnet-b0", 7, 48, backbone_weights=str(path))
    for name, value in source.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[name], value), name
    with pytest.raises(ValueError, match="backbone_weights .* does not fit"):
        EmotionNet("efficientnet-b1", 7, 48, backbone_weights=str(path))


@pytest.mark.parametrize("backbone", ["efficientnet-b0", "efficientnet-b4"])
def test_trains_a_few_steps_on_real_faces_and_exports(backbone: str, small_tree: Path, tmp_path: Path) -> None:
    config = few_steps_config(backbone, "random")
    result = train(small_tree, config, tmp_path / "run", progress=False)
    assert result.epochs_done == 1 and 0 <= result.best_val_accuracy <= 1
    info = export_onnx(result.best_checkpoint, tmp_path / "model.onnx")
    assert info.info["backbone"] == backbone
    probs = EmotionClassifier(tmp_path / "model.onnx").predict_proba([np.full((48, 48), 128, np.uint8)])
    assert probs.shape == (1, 7) and probs.sum() == pytest.approx(1, abs=1e-4)
