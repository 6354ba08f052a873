"""Training configuration, read from a TOML or YAML file (see ``configs/``) and checked when read: unknown keys,
wrong types and unknown values of the enumerated settings are a :class:`~emolens.errors.ConfigError` naming the
file, the key and what is allowed.

A file may start from another: ``base = "ferplus_lite0.toml"`` (a path relative to the file) takes every setting
of that file, and the file's own settings replace them (tables such as ``[augment]`` key by key). Paths in a file
(``init_from``, ``backbone_weights``) are relative to the file that sets them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from emolens.datasets.options import LabelMode
from emolens.emotion.preprocessing import Color, Preprocessing
from emolens.errors import ConfigError
from emolens.training.augment import AugmentConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

Backbone = Literal["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2",
                   "efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
                   "efficientnet-b4", "efficientnet-b5", "efficientnet-b6", "efficientnet-b7"]
BACKBONES: tuple[Backbone, ...] = get_args(Backbone)
Stage = Literal["head", "top", "all"]
"""What trains in a stage: the ``head`` only, the ``top`` blocks of the backbone too, or ``all``."""
ClassWeighting = Literal["balanced", "none"]
RANDOM_INIT = "random"
"""``backbone_weights`` value asking for a randomly initialised backbone."""
PATH_KEYS = ("init_from", "backbone_weights")
"""Settings that hold a path, relative to the config file that sets them."""
BASE_KEY = "base"
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


@dataclass(frozen=True)
class StageConfig:
    """One phase of staged unfreezing: which part trains, for how long, how fast."""

    unfreeze: Stage
    epochs: int
    lr: float


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved into every checkpoint."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # nested dataclasses inherit it

    backbone: Backbone = "efficientnet-lite0"  # lite0..2: weights installed; b0..b7: bring backbone_weights
    backbone_weights: str = ""  # ImageNet state dict for the backbone (required for b0..b7), or "random"
    input_size: int = 64
    color: Color = "gray"
    dropout: float = 0.3
    crop_margin: float = 0.0
    source_size: int = 0  # shrink larger faces to this side first, in training and at run time (48: FER2013's)
    label_mode: LabelMode = "soft"  # FER+ sources: soft | majority | fer2013 (validation: majority for soft)
    original_label_weight: Fraction = 0.0  # share of each FER+ target moved to the image's original FER2013 label
    val_fraction: float = 0.1  # held out of train when the source has no validation split
    batch_size: int = 64
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    class_weighting: ClassWeighting = "balanced"
    class_weight_power: float = 1.0  # 1 = fully balanced, 0.5 = square root of balanced
    top_blocks: int = 4
    warmup_fraction: float = 0.1
    ema_decay: Fraction = 0.0  # > 0: validate, keep and export an exponential moving average of the weights
    stages: tuple[StageConfig, ...] = (StageConfig("head", 1, 3e-3), StageConfig("top", 2, 1e-3),
                                       StageConfig("all", 12, 1e-3))
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    tta_val: bool = True  # validate under the runtime's TTA (emolens.emotion.tta), as evaluation reports
    seed: int = 0
    threads: int = 0  # 0 = all cores
    channels_last: bool = True
    max_train_images: int = 0  # 0 = all; a small number makes a quick smoke run
    init_from: str = ""  # start from this checkpoint's weights (e.g. fine-tune a low-resolution run at a higher one)

    @property
    def epochs(self) -> int:
        return sum(s.epochs for s in self.stages)

    @property
    def preprocessing(self) -> Preprocessing:
        """The input contract of the model this config trains (stored in the exported model)."""
        return Preprocessing(input_size=self.input_size, color=self.color, crop_margin=self.crop_margin,
                             source_size=self.source_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """A checked config; a :class:`ConfigError` names ``source``, each bad key and what it allows."""
        try:
            return _ADAPTER.validate_json(json.dumps(data))
        except TypeError as exc:  # a value JSON cannot hold (e.g. a TOML date): no setting takes one
            raise ConfigError(f"{source}: {exc}") from None
        except ValidationError as exc:
            raise ConfigError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None

    def checked(self) -> TrainConfig:
        """This config, checked like one read from a file (for configs built in code)."""
        return self.from_dict(self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a ``.toml``, ``.yaml`` or ``.yml`` file and the files it is based on."""
        return cls.from_dict(read_config_file(Path(path)), source=str(path))


_ADAPTER = TypeAdapter(TrainConfig)
_NESTED = {"augment": AugmentConfig, "stages": StageConfig}


def _describe(error: Any) -> str:
    """One validation error as ``key: problem``, listing the allowed keys or values."""
    loc = error["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if error["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        owner = _NESTED.get(loc[0], TrainConfig) if len(loc) > 1 else TrainConfig
        allowed = [f.name for f in fields(owner)] + ([BASE_KEY] if owner is TrainConfig else [])
        return f"{key}: unknown key (known: {', '.join(allowed)})"
    if error["type"] in ("missing", "missing_argument"):
        return f"{key}: missing (every stage needs unfreeze, epochs and lr)" if "stages" in loc else f"{key}: missing"
    if error["type"] == "literal_error":
        return f"{key}: must be {error['ctx']['expected']}, not {error['input']!r}"
    return f"{key}: {error['msg'][0].lower()}{error['msg'][1:]}, not {error['input']!r}"


def _parse(path: Path) -> dict[str, Any]:
    """The settings written in one file (TOML or YAML), with its paths resolved against its folder."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid {'TOML' if path.suffix == '.toml' else 'YAML'} file ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected key = value settings, found a {type(data).__name__}")
    for key in PATH_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value not in ("", RANDOM_INIT):
            data[key] = str((path.parent / value).resolve())
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; tables (dicts) are merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        both_tables = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merge(base[key], value) if both_tables else value
    return merged


def read_config_file(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The settings of a config file merged over those of its ``base`` chain, not yet checked."""
    if path.resolve() in chain:
        raise ConfigError(f"{path}: {BASE_KEY} chain comes back to this file")
    data = _parse(path)
    base = data.pop(BASE_KEY, None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: {BASE_KEY} must be the path of another config file, not {base!r}")
    return _merge(read_config_file(path.parent / base, (*chain, path.resolve())), data)
