"""Decoding image files into uint8 arrays, the one decoder of the runtime (:mod:`emolens.pipeline.images`) and
the dataset loaders (:mod:`emolens.datasets`): EXIF orientation applied, a decompression-bomb guard, clear
errors. It sits below both, so the faces a model is evaluated on look exactly like those it analyses."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from emolens.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
"""Files with these suffixes are picked up from folders (by the CLI and the dataset loaders)."""
MAX_PIXELS = 50_000_000
"""Images with more pixels are refused (decompression bombs); override per call."""
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def _gray_pixels(image: Image.Image) -> np.ndarray:
    """uint8 HxW pixels of a grey image. Pillow would clip 16-bit values to 255: they are scaled from their full
    range instead, and 32-bit integer or float images by their maximum."""
    if image.mode in ("1", "L", "LA"):
        return np.asarray(image.convert("L"))
    pixels = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0)
    return cv2.convertScaleAbs(pixels, alpha=255.0 / top)


def from_pil(image: Image.Image, name: str, max_pixels: int = MAX_PIXELS, owned: bool = False,
             keep_gray: bool = False) -> np.ndarray:
    """BGR pixels of ``image`` (H, W, 3), upright by its EXIF orientation; with ``keep_gray``, a grey image
    stays grey (H, W). An ``owned`` image (decoded here, not the caller's) is rotated in place and released
    early, so that at most about 7 bytes per pixel are held at once: the decoded image (4 bytes per pixel for
    RGB), its raw bytes (3) and, once the image is released, the BGR result (3)."""
    if image.width * image.height > max_pixels:
        raise InputError(f"{name}: image is {image.width}x{image.height}, over the limit of {max_pixels:,} pixels")
    try:
        image.load()
        if owned:
            ImageOps.exif_transpose(image, in_place=True)
        else:
            image = ImageOps.exif_transpose(image)  # a copy: the caller's image stays as it was
        if image.mode in _GRAY_MODES and (keep_gray or image.mode not in ("1", "L", "LA")):
            gray = _gray_pixels(image)
            image.close()
            return gray if keep_gray else cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        if image.mode != "RGB":
            converted = image.convert("RGB")
            image.close()
            image = converted
        rgb = np.asarray(image)  # read-only, over one copy of the pixels
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: cannot decode image ({exc})") from None
    image.close()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def decode_image(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS,
                 keep_gray: bool = False) -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, WebP, ...) to BGR (grey HxW with ``keep_gray``), checking content,
    not the file name."""
    if not data:
        raise InputError(f"{name}: empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return from_pil(image, name, max_pixels, owned=True, keep_gray=keep_gray)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{name}: image has too many pixels (decompression bomb?)") from None
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image file (unrecognised content)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: cannot decode image, truncated or corrupt ({exc})") from None
