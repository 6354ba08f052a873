"""Reading images from paths, bytes, PIL images or arrays into BGR uint8 arrays, with clear errors (the decoder
itself is :mod:`emolens.images`, shared with the dataset loaders)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from emolens.errors import InputError
from emolens.images import IMAGE_FORMATS, MAX_PIXELS, check_image_formats, decode_image, from_pil

__all__ = ["IMAGE_FORMATS", "MAX_PIXELS", "ImageSource", "check_image_formats", "decode_image", "load_image"]

ImageSource = Union[str, Path, bytes, Image.Image, np.ndarray]


def load_image(source: ImageSource, max_pixels: int = MAX_PIXELS, formats: Sequence[str] = IMAGE_FORMATS,
               ) -> np.ndarray:
    """Any supported image source -> BGR uint8 (H, W, 3); files and bytes in one of ``formats`` only. Raises
    :class:`InputError` with a clear message."""
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise InputError(f"array image must be uint8 HxW or HxWx3 BGR, got {source.dtype} {source.shape}")
        if source.ndim == 2:
            return np.ascontiguousarray(np.repeat(source[:, :, None], 3, axis=2))
        if source.shape[2] == 4:
            return np.ascontiguousarray(source[:, :, :3])
        return source
    if isinstance(source, Image.Image):
        return from_pil(source, "image", max_pixels)
    if isinstance(source, bytes):
        return decode_image(source, max_pixels=max_pixels, formats=formats)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    return decode_image(path.read_bytes(), str(path), max_pixels, formats=formats)
