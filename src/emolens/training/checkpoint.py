"""Training checkpoints: plain data and tensors only (model and optimiser state dicts, the config as a dict,
labels, history), read without running code from the file and written atomically.

Like timm (``_helpers._torch_load``, ``utils/checkpoint_saver.py``): reading uses ``torch.load(weights_only=True)``
with no fallback to full unpickling, so a checkpoint from elsewhere cannot run code; writing goes to a temporary
file in the same folder, then ``os.replace``, so an interruption never leaves a half-written ``last.pt`` or
``best.pt``.
"""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import torch

from emolens.errors import ModelError
from emolens.training.config import TrainConfig
from emolens.training.model import EmotionNet, build_model

LAST, BEST = "last.pt", "best.pt"
_RENAMED_KEYS = {"labels": "label_mode"}  # config keys of checkpoints written before the rename


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's dict (model and optimiser state, config, labels, history), loaded safely."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(f"{path}: refused: the checkpoint holds Python objects that loading would run, not only "
                         f"tensors and plain data ({str(exc).splitlines()[-1]})") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ModelError(f"{path}: not a readable training checkpoint ({exc})") from None
    if not isinstance(checkpoint, dict) or not {"model", "config", "label_names"} <= checkpoint.keys():
        raise ModelError(f"{path}: not an emolens training checkpoint (needs model, config and label_names)")
    return checkpoint


def config_of(checkpoint: dict[str, Any], source: str | Path = "checkpoint") -> TrainConfig:
    """The :class:`TrainConfig` a checkpoint was trained with."""
    config = {_RENAMED_KEYS.get(key, key): value for key, value in checkpoint["config"].items()}
    return TrainConfig.from_dict(config, source=f"{source} (config)")


def save_checkpoint(checkpoint: dict[str, Any], path: Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    The file gets the mode any new file gets (the umask's), like the run's other files: the temporary file has a
    name of its own (a random UUID) instead of ``mkstemp``'s private 0600 file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        torch.save(checkpoint, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> tuple[EmotionNet, TrainConfig, tuple[str, ...], dict[str, Any]]:
    """Model (eval mode), config, labels and the raw checkpoint dict of a training checkpoint."""
    checkpoint = read_checkpoint(path)
    config = config_of(checkpoint, path)
    labels = tuple(checkpoint["label_names"])
    model = build_model(config, len(labels), pretrained=False)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model, config, labels, checkpoint
