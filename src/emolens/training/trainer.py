"""The training loop: staged unfreezing, one-cycle learning rate per stage, class-weighted soft-label loss,
per-epoch checkpoints with ``--resume``, best model chosen on the validation split, curves saved as PNG."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from emolens.datasets import FaceDataset, dataset_has_split, load_dataset
from emolens.emotion.preprocessing import Preprocessing, normalize
from emolens.training.augment import augment_batch
from emolens.training.config import TrainConfig
from emolens.training.model import EmotionNet

LAST, BEST = "last.pt", "best.pt"


@dataclass
class TrainResult:
    """Where a run left its files and how good its best epoch was."""

    out_dir: Path
    best_checkpoint: Path
    best_val_accuracy: float
    epochs_done: int


def preprocessing_of(config: TrainConfig) -> Preprocessing:
    return Preprocessing(input_size=config.input_size, color=config.color, crop_margin=config.crop_margin,  # type: ignore[arg-type]
                         source_size=config.source_size)


def load_splits(source: str | Path, config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    """Train and validation datasets; the validation split is held out of train if the source has none."""
    train_split = "train" if dataset_has_split(source, "train") else None
    train = load_dataset(source, train_split, label_mode=config.labels)
    if dataset_has_split(source, "val"):
        val_labels = "majority" if config.labels == "soft" else config.labels
        val = load_dataset(source, "val", label_mode=val_labels, label_names=train.label_names)
    else:
        idx_train, idx_val = train_test_split(np.arange(len(train)), test_size=config.val_fraction,
                                              stratify=train.labels, random_state=config.seed)
        train, val = train.subset(idx_train), train.subset(idx_val)
    if config.max_train_images and len(train) > config.max_train_images:
        rng = np.random.default_rng(config.seed)
        train = train.subset(np.sort(rng.choice(len(train), config.max_train_images, replace=False)))
        val = val.subset(np.sort(rng.choice(len(val), min(len(val), config.max_train_images), replace=False)))
    return train, val


def cached_arrays(dataset: FaceDataset, prep: Preprocessing, cache_dir: Path) -> np.ndarray:
    """The dataset resized to model input as one uint8 array, cached on disk for the next run or resume."""
    key = hashlib.sha1(json.dumps([prep.input_size, prep.color, prep.source_size, dataset.sources]).encode()).hexdigest()[:16]
    path = cache_dir / f"images-{key}.npy"
    if path.is_file():
        return np.load(path)
    arrays = np.stack([prep.resize(im) for im in dataset.images])
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, arrays)
    return arrays


def class_weights(labels: np.ndarray, num_classes: int, config: TrainConfig) -> torch.Tensor:
    """Balanced class weights (n / (C * count)), raised to ``class_weight_power``; ones when off."""
    if config.class_weighting == "none":
        return torch.ones(num_classes)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = len(labels) / (num_classes * np.maximum(counts, 1))
    return torch.tensor(weights ** config.class_weight_power, dtype=torch.float32)


def targets_of(dataset: FaceDataset) -> np.ndarray:
    """Label distributions: the soft labels if any, else one-hot."""
    if dataset.soft_labels is not None:
        return dataset.soft_labels.astype(np.float32)
    return np.eye(len(dataset.label_names), dtype=np.float32)[dataset.labels]


def weighted_soft_ce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Cross-entropy against (smoothed) label distributions, each sample weighted by its class weight."""
    num_classes = logits.shape[1]
    targets = targets * (1 - smoothing) + smoothing / num_classes
    per_sample = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    sample_weights = (targets * weights).sum(dim=1)
    return (per_sample * sample_weights).sum() / sample_weights.sum()


def stage_at(config: TrainConfig, epoch: int) -> tuple[int, int]:
    """(stage index, epoch index within that stage) of a global epoch."""
    for i, stage in enumerate(config.stages):
        if epoch < stage.epochs:
            return i, epoch
        epoch -= stage.epochs
    raise ValueError("epoch past the end of the schedule")


def one_cycle_lr(peak: float, progress: float, warmup: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ~0; ``progress`` runs 0..1 over a stage."""
    if progress < warmup:
        return peak * (0.04 + 0.96 * progress / warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


def predict(model: EmotionNet, x: np.ndarray, prep: Preprocessing, tta: bool, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for uint8 model-size images, optionally averaged with their mirror images."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(normalize(x[start:start + batch_size], prep))
            probs = F.softmax(model(batch), dim=1)
            if tta:
                probs = (probs + F.softmax(model(batch.flip(3)), dim=1)) / 2
            out.append(probs.numpy())
    return np.concatenate(out)


def save_curves(history: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.plot(epochs, [h["train_accuracy"] for h in history], marker="o", label="train")
    ax_acc.plot(epochs, [h["val_accuracy"] for h in history], marker="o", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by :func:`train` (model and optimizer state, config, labels, history)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return torch.load(path, map_location="cpu", weights_only=False)


def build_model(config: TrainConfig, num_classes: int, pretrained: bool = True) -> EmotionNet:
    return EmotionNet(config.backbone, num_classes, config.input_size, config.dropout, pretrained=pretrained,
                      backbone_weights=config.backbone_weights)


def make_optimizer(model: EmotionNet, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and normalisation parameters."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.stages[0].lr)


def train(source: str | Path, config: TrainConfig, out_dir: str | Path, resume: bool = False,
          progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train on ``source`` with ``config``, writing checkpoints, history and curves to ``out_dir``.

    ``stop_after`` ends this call after that many epochs, so a long schedule can run in several sittings
    (continue with ``resume=True``).
    """
    out_dir = Path(out_dir)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    prep = preprocessing_of(config)
    train_set, val_set = load_splits(source, config)
    num_classes = len(train_set.label_names)
    x_train = cached_arrays(train_set, prep, out_dir / "cache")
    x_val = cached_arrays(val_set, prep, out_dir / "cache")
    y_train = torch.from_numpy(targets_of(train_set))
    weights = class_weights(train_set.labels, num_classes, config)

    model = build_model(config, num_classes, pretrained=not config.init_from)
    if config.init_from:
        init = read_checkpoint(config.init_from)
        if tuple(init["label_names"]) != train_set.label_names:
            raise ValueError(f"{config.init_from} has labels {init['label_names']}, the data {train_set.label_names}")
        model.load_state_dict(init["model"])
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    state = {"epoch": 0, "best_val_accuracy": -1.0, "history": []}
    last = out_dir / LAST
    if resume and last.is_file():
        checkpoint = read_checkpoint(last)
        if TrainConfig.from_dict(checkpoint["config"]).to_dict() != config.to_dict():  # keys added since: defaults
            raise ValueError(f"{last} was made with another config; resume with the same config or a new --out")
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = {k: checkpoint[k] for k in state}
    elif last.is_file():
        raise FileExistsError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)

    generator = torch.Generator().manual_seed(config.seed + state["epoch"])
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    end = config.epochs if stop_after is None else min(config.epochs, state["epoch"] + stop_after)
    for epoch in range(state["epoch"], end):
        stage_index, epoch_in_stage = stage_at(config, epoch)
        stage = config.stages[stage_index]
        model.set_stage(stage.unfreeze, config.top_blocks)  # type: ignore[arg-type]
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs} [{stage.unfreeze}]",
                   disable=not progress, unit="batch")
        started = time.time()
        for step in bar:
            progress_in_stage = (epoch_in_stage * steps_per_epoch + step) / (stage.epochs * steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = one_cycle_lr(stage.lr, progress_in_stage, config.warmup_fraction)
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            x = augment_batch(torch.from_numpy(normalize(x_train[idx.numpy()], prep)), config.augment, generator)
            if config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            targets = y_train[idx]
            logits = model(x)
            loss = weighted_soft_ce(logits, targets, weights, config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == targets.argmax(1)).sum().item()
            seen += len(idx)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        val_probs = predict(model, x_val, prep, tta=config.tta_val)
        val_loss = float(F.nll_loss(torch.log(torch.from_numpy(val_probs) + 1e-8), torch.from_numpy(val_set.labels)))
        val_accuracy = float((val_probs.argmax(1) == val_set.labels).mean())
        state["history"].append({"epoch": epoch + 1, "stage": stage.unfreeze, "train_loss": total_loss / max(seen, 1),
                                 "train_accuracy": correct / max(seen, 1), "val_loss": val_loss,
                                 "val_accuracy": val_accuracy, "seconds": round(time.time() - started, 1)})
        state["epoch"] = epoch + 1
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "config": config.to_dict(),
                      "label_names": list(train_set.label_names), **state}
        if val_accuracy > state["best_val_accuracy"]:
            state["best_val_accuracy"] = checkpoint["best_val_accuracy"] = val_accuracy
            torch.save(checkpoint, out_dir / BEST)
        torch.save(checkpoint, out_dir / (LAST + ".tmp"))
        (out_dir / (LAST + ".tmp")).replace(last)
        (out_dir / "history.json").write_text(json.dumps(state["history"], indent=2))
        save_curves(state["history"], out_dir / "curves.png")
        print(f"epoch {epoch + 1}/{config.epochs} stage={stage.unfreeze} train_loss={total_loss / max(seen, 1):.4f} "
              f"val_loss={val_loss:.4f} val_accuracy={val_accuracy:.4f} best={state['best_val_accuracy']:.4f}", flush=True)
    return TrainResult(out_dir, out_dir / BEST, state["best_val_accuracy"], state["epoch"])
