"""Reading images from paths, bytes, PIL images or arrays into BGR uint8 arrays, with clear errors."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from emolens.errors import InputError

ImageSource = Union[str, Path, bytes, Image.Image, np.ndarray]
MAX_PIXELS = 50_000_000
"""Images with more pixels are refused (decompression bombs); override per call."""


def _from_pil(image: Image.Image, name: str, max_pixels: int, owned: bool = False) -> np.ndarray:
    """BGR pixels of ``image``. An ``owned`` image (decoded here, not the caller's) is rotated in place and
    released early, so that at most about 7 bytes per pixel are held at once: the decoded image (4 bytes per
    pixel for RGB), its raw bytes (3) and, once the image is released, the BGR result (3)."""
    if image.width * image.height > max_pixels:
        raise InputError(f"{name}: image is {image.width}x{image.height}, over the limit of {max_pixels:,} pixels")
    try:
        image.load()
        if owned:
            ImageOps.exif_transpose(image, in_place=True)
        else:
            image = ImageOps.exif_transpose(image)  # a copy: the caller's image stays as it was
        if image.mode != "RGB":
            converted = image.convert("RGB")
            image.close()
            image = converted
        rgb = np.asarray(image)  # read-only, over one copy of the pixels
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: cannot decode image ({exc})") from None
    image.close()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def decode_image(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, WebP, ...) to BGR, checking content, not the file name."""
    if not data:
        raise InputError(f"{name}: empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _from_pil(image, name, max_pixels, owned=True)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{name}: image has too many pixels (decompression bomb?)") from None
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image file (unrecognised content)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: cannot decode image, truncated or corrupt ({exc})") from None


def load_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported image source -> BGR uint8 (H, W, 3). Raises :class:`InputError` with a clear message."""
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise InputError(f"array image must be uint8 HxW or HxWx3 BGR, got {source.dtype} {source.shape}")
        if source.ndim == 2:
            return np.ascontiguousarray(np.repeat(source[:, :, None], 3, axis=2))
        if source.shape[2] == 4:
            return np.ascontiguousarray(source[:, :, :3])
        return source
    if isinstance(source, Image.Image):
        return _from_pil(source, "image", max_pixels)
    if isinstance(source, bytes):
        return decode_image(source, max_pixels=max_pixels)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    return decode_image(path.read_bytes(), str(path), max_pixels)
