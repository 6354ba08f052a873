"""The training loop: staged unfreezing, one-cycle learning rate per stage, class-weighted soft-label loss
(:mod:`emolens.training.targets`), an optional moving average of the weights, per-epoch checkpoints with
``--resume``, best model chosen on the validation split, curves saved as PNG. It runs on the CPU or, with
``device="cuda"`` (or ``"auto"`` where PyTorch sees a GPU), on a CUDA GPU; augmentation stays on the CPU.

Laid out like timm's ``train.py``: :func:`prepare` builds the run, then each epoch is :func:`train_one_epoch`,
:func:`validate` and :func:`save`. Progress goes to tqdm bars and one log line per epoch (``logging``, logger
``emolens.training.trainer``; ``emolens train`` shows it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from emolens.datasets import FaceDataset, dataset_has_split, load_dataset
from emolens.emotion.preprocessing import Preprocessing, normalize
from emolens.emotion.tta import tta_views
from emolens.errors import ConfigError
from emolens.training.augment import augment_batch, mixup
from emolens.training.checkpoint import BEST, LAST, config_of, read_checkpoint, save_checkpoint
from emolens.training.config import TrainConfig
from emolens.training.model import EmotionNet, build_model
from emolens.training.targets import blend_labels, class_weights, targets_of, weighted_soft_ce

log = logging.getLogger(__name__)
TRAINED_WEIGHTS = "trained_model"
"""Checkpoint key of the optimised weights when ``model`` holds their moving average (``ema_decay``)."""
DEVICES = ("auto", "cpu", "cuda")
"""Where training may run: ``auto`` takes a CUDA GPU when PyTorch sees one, else the CPU."""


@dataclass
class TrainResult:
    """Where a run left its files and how good its best epoch was."""

    out_dir: Path
    best_checkpoint: Path
    best_val_accuracy: float
    epochs_done: int


@dataclass
class Run:
    """Everything an epoch needs, built by :func:`prepare`; ``state`` (epoch, best accuracy, history) is what a
    checkpoint carries besides the weights."""

    config: TrainConfig
    out_dir: Path
    label_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: torch.Tensor
    x_val: np.ndarray
    y_val: np.ndarray
    class_weights: torch.Tensor
    model: EmotionNet
    optimizer: torch.optim.AdamW
    state: dict[str, Any]
    ema: AveragedModel | None = None

    @property
    def device(self) -> torch.device:
        """Where the model, and so each batch, lives."""
        return next(self.model.parameters()).device

    @property
    def kept_model(self) -> torch.nn.Module:
        """The weights that are validated, checkpointed as ``model`` and exported: the EMA when there is one."""
        return self.model if self.ema is None else self.ema.module


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name`` (one of :data:`DEVICES`); a :class:`ConfigError` when it is not here."""
    if name not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device cuda: this PyTorch ({torch.__version__}) sees no CUDA GPU; the pinned CPU wheel "
                          "has none, so install a CUDA build of PyTorch on a machine with a GPU, or use --device cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_splits(source: str | Path, config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    """Train and validation datasets; the validation split is held out of train if the source has none."""
    train_split = "train" if dataset_has_split(source, "train") else None
    train = load_dataset(source, train_split, label_mode=config.label_mode)
    if dataset_has_split(source, "val"):
        val_mode = "majority" if config.label_mode == "soft" else config.label_mode
        val = load_dataset(source, "val", label_mode=val_mode, label_names=train.label_names)
    else:
        idx_train, idx_val = train_test_split(np.arange(len(train)), test_size=config.val_fraction,
                                              stratify=train.label_ids, random_state=config.seed)
        train, val = train.subset(idx_train), train.subset(idx_val)
    if config.max_train_images and len(train) > config.max_train_images:
        rng = np.random.default_rng(config.seed)
        train = train.subset(np.sort(rng.choice(len(train), config.max_train_images, replace=False)))
        val = val.subset(np.sort(rng.choice(len(val), min(len(val), config.max_train_images), replace=False)))
    return train, val


def train_targets(train: FaceDataset, config: TrainConfig) -> np.ndarray:
    """The training label distributions, blended with the original FER2013 labels by ``original_label_weight``."""
    if not config.original_label_weight:
        return targets_of(train)
    if config.label_mode == "fer2013":
        raise ConfigError("original_label_weight blends the original labels into FER+ votes: it needs label_mode "
                          "soft or majority")
    return blend_labels(train, config.original_label_weight)


def cached_arrays(dataset: FaceDataset, prep: Preprocessing, cache_dir: Path, progress: bool = False) -> np.ndarray:
    """The dataset resized to model input as one uint8 array, cached on disk for the next run or resume."""
    identity = json.dumps([prep.input_size, prep.color, prep.source_size, dataset.sources])
    key = hashlib.sha1(identity.encode()).hexdigest()[:16]
    path = cache_dir / f"images-{key}.npy"
    if path.is_file():
        return np.load(path)
    arrays = np.stack([prep.resize(im) for im in tqdm(dataset.images, desc="resizing", unit="image",
                                                       disable=not progress, leave=False)])
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, arrays)
    return arrays


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


def predict(model: torch.nn.Module, x: np.ndarray, prep: Preprocessing, tta: bool, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for uint8 model-size images, on the model's device; with ``tta``, averaged over the
    runtime's TTA views (:func:`emolens.emotion.tta.tta_views`), as the ONNX classifier averages them."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = normalize(x[start:start + batch_size], prep)
            views = tta_views(batch) if tta else [batch]
            probs = [F.softmax(model(torch.from_numpy(np.ascontiguousarray(v)).to(device)), dim=1) for v in views]
            out.append(torch.stack(probs).mean(dim=0).cpu().numpy())
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


def make_optimizer(model: EmotionNet, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and normalisation parameters."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.stages[0].lr)


def _initial_model(config: TrainConfig, label_names: tuple[str, ...], device: torch.device) -> EmotionNet:
    """The network on ``device``, with ImageNet backbone weights, or all weights from ``init_from``."""
    model = build_model(config, len(label_names), pretrained=not config.init_from)
    if config.init_from:
        init = read_checkpoint(config.init_from)
        if tuple(init["label_names"]) != label_names:
            raise ConfigError(f"init_from {config.init_from} has labels {init['label_names']}, the data {label_names}")
        model.load_state_dict(init["model"])
    model = model.to(device)
    # Module.to takes memory_format at run time (torch._C._nn._parse_to); torch's overloads leave it out
    return model.to(memory_format=torch.channels_last) if config.channels_last else model  # type: ignore[call-overload]


def _resume(run: Run, resume: bool) -> None:
    """Load ``last.pt`` into ``run`` when resuming; refuse to overwrite a run otherwise."""
    last = run.out_dir / LAST
    if not last.is_file():
        return
    if not resume:
        raise FileExistsError(f"{run.out_dir} already holds a run; pass --resume to continue it or choose another "
                              "--out")
    checkpoint = read_checkpoint(last)
    if config_of(checkpoint, last).to_dict() != run.config.to_dict():  # keys added since: defaults
        raise ConfigError(f"{last} was made with another config; resume with the same config or a new --out")
    run.model.load_state_dict(checkpoint.get(TRAINED_WEIGHTS, checkpoint["model"]))
    if run.ema is not None:
        run.ema.module.load_state_dict(checkpoint["model"])
        run.ema.n_averaged.fill_(1)  # already holds an average: the next update blends into it
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    run.state = {k: checkpoint[k] for k in run.state}


def prepare(source: str | Path, config: TrainConfig, out_dir: Path, resume: bool, progress: bool = False,
            device: torch.device = torch.device("cpu")) -> Run:
    """Load and cache the data, build the model (on ``device``) and optimiser, and pick up ``last.pt`` when
    resuming."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    prep = config.preprocessing
    train_set, val_set = load_splits(source, config)
    model = _initial_model(config, train_set.label_names, device)
    run = Run(config, out_dir, train_set.label_names,
              x_train=cached_arrays(train_set, prep, out_dir / "cache", progress),
              y_train=torch.from_numpy(train_targets(train_set, config)),
              x_val=cached_arrays(val_set, prep, out_dir / "cache", progress), y_val=val_set.label_ids,
              class_weights=class_weights(train_set.label_ids, len(train_set.label_names), config).to(device),
              model=model, optimizer=make_optimizer(model, config),
              state={"epoch": 0, "best_val_accuracy": -1.0, "history": []},
              ema=AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
              if config.ema_decay else None)
    _resume(run, resume)
    out_dir.mkdir(parents=True, exist_ok=True)
    return run


def train_one_epoch(run: Run, epoch: int, generator: torch.Generator, progress: bool = False) -> dict[str, float]:
    """One pass over the shuffled, augmented training images; returns ``train_loss`` and ``train_accuracy``."""
    config, model, optimizer = run.config, run.model, run.optimizer
    stage_index, epoch_in_stage = stage_at(config, epoch)
    stage = config.stages[stage_index]
    model.set_stage(stage.unfreeze, config.top_blocks)
    model.train()
    steps = math.ceil(len(run.x_train) / config.batch_size)
    order = torch.randperm(len(run.x_train), generator=generator)
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs} [{stage.unfreeze}]", disable=not progress,
               unit="batch")
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = one_cycle_lr(stage.lr, (epoch_in_stage * steps + step) / (stage.epochs * steps),
                                       config.warmup_fraction)
        idx = order[step * config.batch_size:(step + 1) * config.batch_size]
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        x = augment_batch(torch.from_numpy(normalize(run.x_train[idx.numpy()], config.preprocessing)),
                          config.augment, generator, config.preprocessing.detail_scale)
        targets = run.y_train[idx]
        if config.augment.mixup:
            x, targets = mixup(x, targets, config.augment.mixup, generator)
        x, targets = x.to(run.device, non_blocking=True), targets.to(run.device, non_blocking=True)
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits = model(x)
        loss = weighted_soft_ce(logits, targets, run.class_weights, config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if run.ema is not None:
            run.ema.update_parameters(model)
        total_loss += loss.item() * len(idx)
        correct += (logits.argmax(1) == targets.argmax(1)).sum().item()
        seen += len(idx)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    bar.close()
    return {"train_loss": total_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1)}


def validate(run: Run) -> dict[str, float]:
    """``val_loss`` and ``val_accuracy`` on the validation split, under the runtime's TTA when ``tta_val``."""
    probs = predict(run.kept_model, run.x_val, run.config.preprocessing, tta=run.config.tta_val)
    loss = F.nll_loss(torch.log(torch.from_numpy(probs) + 1e-8), torch.from_numpy(run.y_val))
    return {"val_loss": float(loss), "val_accuracy": float((probs.argmax(1) == run.y_val).mean())}


def save(run: Run, record: dict[str, Any]) -> None:
    """Add the epoch's ``record`` to the history; write ``last.pt`` (and ``best.pt`` when it is the best yet),
    ``history.json`` and ``curves.png``."""
    state = run.state
    state["history"].append(record)
    state["epoch"] = record["epoch"]
    is_best = record["val_accuracy"] > state["best_val_accuracy"]
    if is_best:
        state["best_val_accuracy"] = record["val_accuracy"]
    checkpoint = {"model": run.kept_model.state_dict(), "optimizer": run.optimizer.state_dict(),
                  "config": run.config.to_dict(), "label_names": list(run.label_names), **state}
    if run.ema is not None:
        checkpoint[TRAINED_WEIGHTS] = run.model.state_dict()
    if is_best:
        save_checkpoint(checkpoint, run.out_dir / BEST)
    save_checkpoint(checkpoint, run.out_dir / LAST)
    (run.out_dir / "history.json").write_text(json.dumps(state["history"], indent=2))
    save_curves(state["history"], run.out_dir / "curves.png")


def train(source: str | Path, config: TrainConfig, out_dir: str | Path, resume: bool = False,
          progress: bool = True, stop_after: int | None = None, device: str = "auto") -> TrainResult:
    """Train on ``source`` with ``config``, writing checkpoints, history and curves to ``out_dir``.

    ``stop_after`` ends this call after that many epochs, so a long schedule can run in several sittings
    (continue with ``resume=True``, on any device: checkpoints load onto the CPU). ``device``: one of
    :data:`DEVICES`.
    """
    config = config.checked()
    run = prepare(source, config, Path(out_dir), resume, progress, resolve_device(device))
    generator = torch.Generator().manual_seed(config.seed + run.state["epoch"])
    end = config.epochs if stop_after is None else min(config.epochs, run.state["epoch"] + stop_after)
    for epoch in range(run.state["epoch"], end):
        started = time.time()
        record = {"epoch": epoch + 1, "stage": config.stages[stage_at(config, epoch)[0]].unfreeze,
                  **train_one_epoch(run, epoch, generator, progress), **validate(run)}
        save(run, {**record, "seconds": round(time.time() - started, 1)})
        log.info("epoch %d/%d stage=%s train_loss=%.4f val_loss=%.4f val_accuracy=%.4f best=%.4f", epoch + 1,
                 config.epochs, record["stage"], record["train_loss"], record["val_loss"], record["val_accuracy"],
                 run.state["best_val_accuracy"])
    return TrainResult(run.out_dir, run.out_dir / BEST, run.state["best_val_accuracy"], run.state["epoch"])
