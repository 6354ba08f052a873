"""Training configuration, read from a TOML or YAML file (see ``configs/``)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from emolens.training.augment import AugmentConfig


@dataclass(frozen=True)
class StageConfig:
    """One phase of staged unfreezing: which part trains (``head``, ``top``, ``all``), for how long, how fast."""

    unfreeze: str
    epochs: int
    lr: float


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved into every checkpoint."""

    backbone: str = "efficientnet-lite0"  # efficientnet-lite0..2 (weights installed) or efficientnet-b0..b7
    backbone_weights: str = ""  # ImageNet state dict for the backbone (required for b0..b7), or "random"
    input_size: int = 64
    color: str = "gray"
    dropout: float = 0.3
    crop_margin: float = 0.0
    source_size: int = 0  # shrink larger faces to this side first, in training and at run time (48: FER2013's)
    labels: str = "soft"  # for FER+ sources: soft | majority | fer2013
    val_fraction: float = 0.1  # held out of train when the source has no validation split
    batch_size: int = 64
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    class_weighting: str = "balanced"  # balanced | none
    class_weight_power: float = 1.0  # 1 = fully balanced, 0.5 = square root of balanced
    top_blocks: int = 4
    warmup_fraction: float = 0.1
    stages: tuple[StageConfig, ...] = (StageConfig("head", 1, 3e-3), StageConfig("top", 2, 1e-3),
                                       StageConfig("all", 12, 1e-3))
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    tta_val: bool = True
    seed: int = 0
    threads: int = 0  # 0 = all cores
    channels_last: bool = True
    max_train_images: int = 0  # 0 = all; a small number makes a quick smoke run
    init_from: str = ""  # start from this checkpoint's weights (e.g. fine-tune a low-resolution run at a higher one)

    @property
    def epochs(self) -> int:
        return sum(s.epochs for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(sorted(unknown))}")
        data = dict(data)
        if "stages" in data:
            data["stages"] = tuple(StageConfig(**s) for s in data["stages"])
        if "augment" in data:
            data["augment"] = AugmentConfig(**data["augment"])
        config = cls(**data)
        for stage in config.stages:
            if stage.unfreeze not in ("head", "top", "all"):
                raise ValueError(f"stage unfreeze must be head, top or all, not {stage.unfreeze!r}")
        return config

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        """Read a ``.toml``, ``.yaml`` or ``.yml`` file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        return cls.from_dict(data or {})
