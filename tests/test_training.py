"""Training: the config (checked keys, types and choices; inheritance; paths), checkpoints (safe reading, atomic
writing), and a short real run end to end: train, resume through the CLI, export to ONNX, PyTorch/ONNX agreement
with and without TTA. The tests that train are marked slow."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from click.testing import CliRunner, Result
from support.helpers import KERNEL_ORDER_ABS

torch = pytest.importorskip("torch", reason="training tests need the [train] extra (PyTorch)")

from emolens.cli.main import cli  # noqa: E402
from emolens.datasets import load_dataset  # noqa: E402
from emolens.emotion.classifier import EmotionClassifier  # noqa: E402
from emolens.emotion.preprocessing import prepare_crops  # noqa: E402
from emolens.errors import ConfigError, DatasetError, ModelError  # noqa: E402
from emolens.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
from emolens.training.config import TrainConfig  # noqa: E402
from emolens.training.export import export_onnx  # noqa: E402
from emolens.training.targets import blend_labels, class_weights  # noqa: E402
from emolens.training.trainer import TRAINED_WEIGHTS, predict, resolve_device, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.toml"


@pytest.mark.parametrize("name", ["ferplus_lite0_80px", "ferplus_lite0_96px", "ferplus_lite0_v2"])
def test_based_configs_read_as_their_full_settings(name: str) -> None:
    """configs/<name>.toml holds only its differences from ferplus_lite0.toml (``base``), yet reads as the full
    file it replaced (tests/fixtures/full_configs); its init_from is relative to configs/, theirs to the repo."""
    based = TrainConfig.load(REPO / "configs" / f"{name}.toml").to_dict()
    full = TrainConfig.load(REPO / "tests" / "fixtures" / "full_configs" / f"{name}.toml").to_dict()
    full_init_from = (REPO / "tests" / "fixtures" / "full_configs").resolve()
    assert full["init_from"].startswith(str(full_init_from))
    assert based["init_from"] == str(REPO.resolve() / Path(full["init_from"]).relative_to(full_init_from))
    assert {**based, "init_from": ""} == {**full, "init_from": ""}
    assert "base" in (REPO / "configs" / f"{name}.toml").read_text()


@pytest.mark.parametrize("setting, words", [
    ('color = "grey"', ["color", "'gray' or 'rgb'", "'grey'"]),
    ('class_weighting = "square-root"', ["class_weighting", "'balanced' or 'none'", "'square-root'"]),
    ('label_mode = "Majority"', ["label_mode", "'fer2013', 'majority' or 'soft'", "'Majority'"]),
    ('labels = "soft"', ["labels: unknown key", "label_mode"]),
    ('backbone = "efficientnet-b9"', ["backbone", "'efficientnet-lite0'", "'efficientnet-b9'"]),
    ('input_size = "96"', ["input_size", "valid integer", "'96'"]),
    ('tta_val = 1', ["tta_val", "valid boolean"]),
    ('stages = [{ unfreeze = "everything", epochs = 1, lr = 1e-3 }]', ["stages[0].unfreeze", "'head', 'top' or 'all'"]),
    ('stages = [{ unfreeze = "all", epochs = 1, lr = 1e-3, momentum = 0.9 }]', ["stages[0].momentum: unknown key"]),
    ('[augment]\nrotate = 10.0', ["augment.rotate: unknown key", "rotate_deg"]),
    ('stages = [{ unfreeze = "all", epochs = 1 }]', ["stages[0].lr: missing"]),
    ('input_size = 96\ninput_size = 80', ["not a valid TOML file"]),
    ('ema_decay = 1.0', ["ema_decay", "less than 1", "1.0"]),
    ('original_label_weight = -0.1', ["original_label_weight", "greater than or equal to 0"]),
    ('[augment]\njpeg = 1.5', ["augment.jpeg", "less than or equal to 1", "1.5"]),
    ('[augment]\nmixup = -0.2', ["augment.mixup", "greater than or equal to 0", "-0.2"]),
])
def test_a_bad_setting_is_named_with_what_it_allows(tmp_path: Path, setting: str, words: list[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'base = "{SMOKE}"\n{setting}\n')
    with pytest.raises(ConfigError) as error:
        TrainConfig.load(path)
    assert str(error.value).startswith(f"{path}: ")
    for word in words:
        assert word in str(error.value)


def test_a_config_built_in_code_is_checked_before_training(fer_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig(color="grey", max_train_images=32)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="color: must be 'gray' or 'rgb', not 'grey'"):
        train(fer_dir, config, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="class_weighting"):
        class_weights(np.array([0, 1, 1]), 2, TrainConfig(class_weighting="sqrt"))  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()


def test_base_and_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "common.toml").write_text(f'base = "{SMOKE}"\ninit_from = "weights/start.pt"\n'
                                                   "input_size = 56\n[augment]\nnoise = 0.2\n")
    (tmp_path / "run.toml").write_text('base = "base/common.toml"\ninput_size = 64\n[augment]\ngamma = 0.3\n')
    config = TrainConfig.load(tmp_path / "run.toml")
    assert config.init_from == str((tmp_path / "base" / "weights" / "start.pt").resolve())
    assert config.input_size == 64 and config.max_train_images == 320  # own setting, and smoke.toml's
    assert (config.augment.noise, config.augment.gamma, config.augment.erasing) == (0.2, 0.3, 0.25)
    (tmp_path / "loop.toml").write_text('base = "loop.toml"\n')
    with pytest.raises(ConfigError, match="base chain comes back"):
        TrainConfig.load(tmp_path / "loop.toml")
    (tmp_path / "orphan.toml").write_text('base = "missing.toml"\n')
    with pytest.raises(ConfigError, match="missing.toml: no such config file"):
        TrainConfig.load(tmp_path / "orphan.toml")


def test_train_cli_names_a_bad_config_in_one_line(fer_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('color = "grey"\n')
    result = CliRunner().invoke(cli, ["train", str(fer_dir), "--config", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {path}: color: must be 'gray' or 'rgb', not 'grey'"]


def test_the_device_is_the_gpu_only_where_pytorch_sees_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") == resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") == resolve_device("cpu")
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda"):
        resolve_device("tpu")


def test_train_cli_without_a_gpu_refuses_device_cuda_in_one_line(fer_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(cli, ["train", str(fer_dir), "--config", str(SMOKE), "--out", str(tmp_path / "run"),
                                      "--device", "cuda"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "device cuda" in result.output and "sees no CUDA GPU" in result.output and "--device cpu" in result.output
    assert not (tmp_path / "run").exists()


class Payload:
    """Unpickling it would create ``marker``: what a hostile checkpoint could do with any other call."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return Path.touch, (self.marker,)


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "hostile.pt"
    torch.save({"model": Payload(marker), "config": {}, "label_names": []}, path)
    with pytest.raises(ModelError, match="hostile.pt: refused: the checkpoint holds Python objects"):
        read_checkpoint(path)
    assert not marker.exists()
    result = CliRunner().invoke(cli, ["export", str(path), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1 and "refused" in result.output and not marker.exists()


def test_checkpoints_are_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}, "config": {}, "label_names": ["a"]}, path)
    with pytest.raises((AttributeError, pickle.PicklingError)):  # a local function: AttributeError before 3.14
        save_checkpoint({"model": lambda: 0, "config": {}, "label_names": ["b"]}, path)  # fails while writing
    assert read_checkpoint(path)["label_names"] == ["a"]  # the earlier file is whole
    assert os.listdir(tmp_path) == ["last.pt"]  # and no temporary file is left behind


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_checkpoints_get_the_mode_of_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        save_checkpoint({"model": {"w": torch.ones(3)}, "config": {}, "label_names": ["a"]}, tmp_path / "best.pt")
    finally:
        os.umask(previous)
    assert (tmp_path / "best.pt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_export_does_not_import_the_trainer() -> None:
    code = "import sys, emolens.training.export; print('emolens.training.trainer' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


class SmokeRun(NamedTuple):
    out: Path
    epochs_after_first_sitting: int
    second_sitting: Result


@pytest.fixture(scope="module")
def smoke_run(fer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    """The smoke config (a few hundred real FER+ faces): one epoch through the API, the second resumed through
    ``emolens train --resume``."""
    out = tmp_path_factory.mktemp("run")
    first = train(fer_dir, TrainConfig.load(SMOKE), out, progress=False, stop_after=1)
    second = CliRunner().invoke(cli, ["train", str(fer_dir), "--config", str(SMOKE), "--out", str(out), "--resume"])
    return SmokeRun(out, first.epochs_done, second)


@pytest.mark.slow
def test_a_run_resumes_through_the_cli(smoke_run: SmokeRun) -> None:
    assert smoke_run.second_sitting.exit_code == 0, smoke_run.second_sitting.output


@pytest.mark.slow
def test_run_writes_checkpoints_history_and_curves(smoke_run: SmokeRun) -> None:
    assert smoke_run.epochs_after_first_sitting == 1
    history = json.loads((smoke_run.out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert [h["stage"] for h in history] == ["head", "all"]
    assert all(0 <= h["val_accuracy"] <= 1 and np.isfinite(h["train_loss"]) for h in history)
    assert (smoke_run.out / "curves.png").stat().st_size > 10_000
    assert (smoke_run.out / "best.pt").is_file() and (smoke_run.out / "last.pt").is_file()
    assert sorted(p.name for p in smoke_run.out.iterdir()) == ["best.pt", "cache", "curves.png", "history.json",
                                                               "last.pt"]


@pytest.mark.slow
def test_the_cli_logs_one_line_per_epoch(smoke_run: SmokeRun) -> None:
    assert "epoch 2/2 stage=all train_loss=" in smoke_run.second_sitting.output
    assert "epoch 1/2 stage=head" not in smoke_run.second_sitting.output  # that one ran in the first sitting


@pytest.mark.slow
def test_a_run_is_not_overwritten_or_resumed_with_another_config(smoke_run: SmokeRun, fer_dir: Path) -> None:
    with pytest.raises(FileExistsError, match="--resume"):
        train(fer_dir, TrainConfig.load(SMOKE), smoke_run.out, progress=False)
    other = TrainConfig.from_dict({**TrainConfig.load(SMOKE).to_dict(), "dropout": 0.5})
    with pytest.raises(ConfigError, match="another config"):
        train(fer_dir, other, smoke_run.out, resume=True, progress=False)


@pytest.mark.slow
def test_training_learns_something(smoke_run: SmokeRun) -> None:
    """Two epochs on 320 faces beat the majority-class rate of the validation sample (about 0.33)."""
    history = json.loads((smoke_run.out / "history.json").read_text())
    assert max(h["val_accuracy"] for h in history) > 0.36


@pytest.mark.slow
# PyTorch and ONNX Runtime sum in other orders (KERNEL_ORDER_ABS). Weights stored as fp16 are each rounded by up to
# 2**-11 (5e-4) of their size: a real change of the model, not of the order. The errors of one layer's weights have
# random signs, so each layer's output moves by about 5e-4 relative; some 60 layers in a row add up to about 1e-2
# relative in the logits, and a softmax moves a probability by at most half the largest logit change: 2e-2 holds
# for logits up to 4 in size, more than a two-epoch smoke model reaches.
@pytest.mark.parametrize("fp16_weights, tolerance", [(False, KERNEL_ORDER_ABS), (True, 2e-2)])
def test_onnx_export_matches_pytorch(smoke_run: SmokeRun, fer_dir: Path, tmp_path: Path, fp16_weights: bool,
                                     tolerance: float) -> None:
    onnx_path = tmp_path / "model.onnx"
    info = export_onnx(smoke_run.out / "best.pt", onnx_path, crop_margin=0.1, fp16_weights=fp16_weights)
    classifier = EmotionClassifier(onnx_path)
    assert classifier.labels == info.labels == load_dataset(fer_dir, "val", label_mode="majority").label_names
    assert classifier.preprocessing.crop_margin == 0.1 and classifier.preprocessing.input_size == 48
    crops = load_dataset(fer_dir / "privatetest").images[:64]
    model, _, _, _ = load_checkpoint(smoke_run.out / "best.pt")
    with torch.inference_mode():
        expected = torch.softmax(model(torch.from_numpy(prepare_crops(crops, classifier.preprocessing))), 1).numpy()
    got = classifier.predict_proba(crops)
    assert got.shape == (64, 7)
    assert np.abs(got - expected).max() < tolerance
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.95


@pytest.mark.slow
def test_validation_uses_the_tta_that_evaluation_reports(smoke_run: SmokeRun, fer_dir: Path, tmp_path: Path) -> None:
    """The trainer's validation probabilities under TTA are the ONNX runtime's under TTA (not a mirror-only
    average), so the best epoch is chosen under the TTA that ``emolens evaluate`` reports."""
    export_onnx(smoke_run.out / "best.pt", tmp_path / "model.onnx", fp16_weights=False)
    classifier = EmotionClassifier(tmp_path / "model.onnx")
    crops = load_dataset(fer_dir / "privatetest").images[:64]
    model, config, _, _ = load_checkpoint(smoke_run.out / "best.pt")
    resized = np.stack([config.preprocessing.resize(c) for c in crops])
    validated = predict(model, resized, config.preprocessing, tta=True)
    runtime = classifier.predict_proba(crops, tta=True, calibrated=False)
    assert np.abs(validated - runtime).max() < KERNEL_ORDER_ABS  # PyTorch against ONNX Runtime
    assert np.abs(validated - predict(model, resized, config.preprocessing, tta=False)).max() > 1e-3


@pytest.mark.slow
def test_init_from_fine_tunes_at_another_input_size(smoke_run: SmokeRun, fer_dir: Path, tmp_path: Path) -> None:
    """Progressive resizing: the 48 px run's weights start a 56 px run (a zero learning rate keeps them as loaded)."""
    base = TrainConfig.load(SMOKE).to_dict()
    config = TrainConfig.from_dict({**base, "input_size": 56, "init_from": str(smoke_run.out / "best.pt"),
                                    "stages": [{"unfreeze": "all", "epochs": 1, "lr": 0.0}]})
    result = train(fer_dir, config, tmp_path / "resized", progress=False)
    resized, loaded_config, _, _ = load_checkpoint(result.best_checkpoint)
    original, _, _, _ = load_checkpoint(smoke_run.out / "best.pt")
    assert loaded_config.input_size == 56
    for name, value in original.state_dict().items():
        if name.endswith("weight") and value.ndim > 1:
            assert torch.equal(resized.state_dict()[name], value), name


def test_blended_targets_move_weight_to_the_original_label(fer_dir: Path) -> None:
    """FER+ vote distributions with a quarter moved to the original FER2013 label of the same face, which the FER+
    loader carries (the same labels as the original-label folder tree, matched by file)."""
    votes = load_dataset(fer_dir, "test", label_mode="soft")
    original = load_dataset(fer_dir, "test", label_mode="fer2013")
    label_of = dict(zip(original.sources, original.label_ids.tolist(), strict=True))
    assert votes.original_label_ids.tolist() == [label_of[s] for s in votes.sources]
    assert load_dataset(fer_dir, "test", label_mode="majority").subset(np.arange(5)).original_label_ids.shape == (5,)
    blended = blend_labels(votes, 0.25)
    rows, original_labels = np.arange(len(votes)), votes.original_label_ids
    assert np.allclose(blended.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(blended[rows, original_labels], 0.75 * votes.soft_labels[rows, original_labels] + 0.25)
    disagree = votes.label_ids != original_labels
    assert 0.2 < disagree.mean() < 0.5  # the two labellings disagree on about a third of the faces
    assert (blended[disagree].argmax(1) == votes.label_ids[disagree]).mean() > 0.6  # the votes mostly still lead (0.75)
    with pytest.raises(DatasetError, match="needs a FER\\+ source"):
        blend_labels(original, 0.25)


def test_original_labels_cannot_blend_into_themselves(fer_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig.from_dict({**TrainConfig.load(SMOKE).to_dict(), "label_mode": "fer2013",
                                    "original_label_weight": 0.25})
    with pytest.raises(ConfigError, match="needs label_mode soft or majority"):
        train(fer_dir, config, tmp_path / "run", progress=False)


@pytest.mark.slow
def test_an_ema_run_keeps_and_resumes_the_average(fer_dir: Path, tmp_path: Path) -> None:
    """With ema_decay the checkpoint's ``model`` (what is validated and exported) is the moving average, and the
    optimised weights ride beside it so that a resumed run continues both (with v4's other settings on: mixup and
    augmentation at a 24 px source detail)."""
    smoke = TrainConfig.load(SMOKE).to_dict()
    config = TrainConfig.from_dict({**smoke, "ema_decay": 0.9, "original_label_weight": 0.25, "source_size": 24,
                                    "augment": {**smoke["augment"], "mixup": 0.2, "resolution": 0.5, "jpeg": 0.5}})
    train(fer_dir, config, tmp_path / "run", progress=False, stop_after=1)
    train(fer_dir, config, tmp_path / "run", resume=True, progress=False)
    checkpoint = read_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["epoch"] == 2
    averaged, trained = checkpoint["model"], checkpoint[TRAINED_WEIGHTS]
    assert averaged.keys() == trained.keys()
    name = next(k for k, v in averaged.items() if v.ndim == 4)
    assert not torch.equal(averaged[name], trained[name])
    model, _, _, _ = load_checkpoint(tmp_path / "run" / "last.pt")
    assert torch.equal(model.state_dict()[name], averaged[name])


@pytest.mark.slow
def test_init_from_refuses_a_missing_checkpoint(fer_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig.from_dict({**TrainConfig.load(SMOKE).to_dict(), "init_from": str(tmp_path / "nope.pt")})
    with pytest.raises(FileNotFoundError, match="nope.pt: no such checkpoint"):
        train(fer_dir, config, tmp_path / "run", progress=False)
