"""How a face crop becomes model input. Training and the runtime both call these functions, and the
exported model carries the :class:`Preprocessing` in its metadata, so the two can never drift apart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

from emolens.errors import ConfigError

Color = Literal["gray", "rgb"]
COLORS: tuple[Color, ...] = ("gray", "rgb")


@dataclass(frozen=True)
class Preprocessing:
    """Input contract of an emotion model.

    Attributes:
        input_size: side of the square model input, in pixels.
        color: ``gray`` (crops are converted to grey and repeated on 3 channels) or ``rgb``.
        mean: subtracted after scaling pixels to [0, 1].
        std: divided by after subtracting ``mean``.
        crop_margin: how much to grow a detector's face box on each side, as a fraction of its size,
            to match the framing of the training crops.
        source_size: side of the training faces before they were scaled to ``input_size`` (48 for FER2013).
            Larger crops are first shrunk to it, so the model sees the level of detail it was trained on,
            not the sharper detail of a real photo; 0 turns this off.
    """

    input_size: int = 64
    color: Color = "gray"
    mean: float = 0.5
    std: float = 0.5
    crop_margin: float = 0.0
    source_size: int = 0

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise ConfigError(f"preprocessing color must be one of {', '.join(COLORS)}, not {self.color!r}")
        if self.input_size < 1 or self.std == 0:
            raise ConfigError(f"preprocessing needs a positive input_size and a non-zero std, not {self}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preprocessing:
        return cls(**json.loads(text))

    @property
    def detail_scale(self) -> float:
        """Input pixels per pixel of the faces' own detail: ``input_size / source_size`` (2 for 48 px FER2013
        faces at 96 px), 1 when ``source_size`` is off or not smaller than the input."""
        return self.input_size / self.source_size if 0 < self.source_size < self.input_size else 1.0

    def resize(self, image: np.ndarray) -> np.ndarray:
        """A uint8 face crop at this contract's colour, detail and input size (see :func:`resize_face`)."""
        return resize_face(image, self.input_size, self.color, self.source_size)


def resize_face(image: np.ndarray, size: int, color: Color, source_size: int = 0) -> np.ndarray:
    """Convert a uint8 face crop (grey HxW, BGR HxWx3 or BGRA) to the model's colour and size.

    A crop larger than ``source_size`` (when set) is first shrunk to it (see :class:`Preprocessing`).
    Returns uint8, HxW for ``gray`` and HxWx3 RGB for ``rgb``.
    """
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if color == "gray":
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if 0 < source_size < max(image.shape[:2]):
        image = cv2.resize(image, (source_size, source_size), interpolation=cv2.INTER_AREA)
    if image.shape[0] != size or image.shape[1] != size:
        shrinking = image.shape[0] > size or image.shape[1] > size
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return np.ascontiguousarray(image)


def normalize(batch: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """uint8 batch (N,S,S) or (N,S,S,3) from :func:`resize_face` -> float32 (N,3,S,S) model input."""
    x = batch.astype(np.float32) / 255.0
    x = (x - prep.mean) / prep.std
    if x.ndim == 3:
        return np.repeat(x[:, None], 3, axis=1)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def prepare_crops(crops: Sequence[np.ndarray], prep: Preprocessing) -> np.ndarray:
    """Face crops of any size -> float32 (N,3,S,S) model input."""
    if len(crops) == 0:
        return np.zeros((0, 3, prep.input_size, prep.input_size), np.float32)
    resized = np.stack([prep.resize(c) for c in crops])
    return normalize(resized, prep)
