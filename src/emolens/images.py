"""Decoding image files into uint8 arrays, the one decoder of the runtime (:mod:`emolens.pipeline.images`) and
the dataset loaders (:mod:`emolens.datasets`): only accepted formats, EXIF orientation applied, a
decompression-bomb guard, clear errors. It sits below both, so the faces a model is evaluated on look exactly
like those it analyses.

Every failure of Pillow on a file is an :class:`~emolens.errors.InputError`, whatever Pillow raised: its
decoders raise OSError, SyntaxError, ValueError, but also EOFError, struct.error, IndexError, KeyError,
TypeError, ZeroDivisionError, RuntimeError or NotImplementedError on crafted files, and Pillow's own fuzz harness
(``Tests/oss-fuzz/fuzz_pillow.py``) counts any ``Exception`` as a refused file for that reason. Only a
``MemoryError`` passes through (the process, not the file, is short of something).
"""

from __future__ import annotations

import io
import math
from typing import Iterable, NoReturn, Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from emolens.errors import ConfigError, InputError, UnsupportedFormatError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
"""Files with these suffixes are picked up from folders (by the CLI and the dataset loaders)."""
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""The Pillow formats decoded unless the ``IMAGE_FORMATS`` setting says otherwise: the documented ones. Pillow
reads many more, some through risky paths (EPS runs Ghostscript), so others are refused
(:class:`~emolens.errors.UnsupportedFormatError`)."""
MAX_PIXELS = 50_000_000
"""Images with more pixels are refused (decompression bombs): the default of the ``MAX_PIXELS`` setting of the
CLI, batch and the web app (``EMOLENS_MAX_PIXELS``)."""
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_STRIP_BYTES = 1 << 20
"""Deep (16-bit, 32-bit, float) grey images are scaled to uint8 a strip of about this many bytes at a time."""


def check_image_formats(names: Iterable[str]) -> tuple[str, ...]:
    """Pillow format names (any case) as an upper-case tuple; :class:`ConfigError` naming the known ones for an
    unknown or empty list."""
    Image.init()
    chosen = tuple(str(name).strip().upper() for name in names)
    unknown = [name for name in chosen if name not in Image.OPEN]
    if unknown or not chosen:
        raise ConfigError(f"image formats must be Pillow format names, got {', '.join(unknown) or 'none'}; "
                          f"Pillow reads {', '.join(sorted(Image.OPEN))}")
    return chosen


def _gray_pixels(image: Image.Image) -> np.ndarray:
    """uint8 HxW pixels of a grey image. Pillow would clip 16-bit values to 255: they are scaled from their full
    range instead, and 32-bit integer or float images by their maximum. Deep images are converted a strip at a
    time, so no full-size copy is made besides the uint8 result (2-4 bytes per pixel held by Pillow + 1)."""
    if image.mode in ("1", "L", "LA"):
        return np.asarray(image.convert("L"))
    top = 65535.0 if image.mode.startswith("I;16") else float(image.getextrema()[1])
    alpha = 255.0 / max(top, 1.0) if math.isfinite(top) else 0.0  # NaN or infinite maximum: black
    width, height = image.size
    out = np.empty((height, width), np.uint8)
    rows = max(1, _STRIP_BYTES // (4 * width))
    for y in range(0, height, rows):
        strip = np.asarray(image.crop((0, y, width, min(height, y + rows))))
        out[y:y + rows] = cv2.convertScaleAbs(strip.astype(strip.dtype.newbyteorder("="), copy=False), alpha=alpha)
    return out


def _refuse(name: str, exc: Exception) -> NoReturn:
    """Raise ``exc``, a failure of Pillow on the file ``name``, as an :class:`InputError`."""
    if isinstance(exc, (InputError, MemoryError)):
        raise exc
    if isinstance(exc, Image.DecompressionBombError):
        raise InputError(f"{name}: image has too many pixels (decompression bomb?)") from None
    raise InputError(f"{name}: cannot decode image, truncated or corrupt ({type(exc).__name__}: {exc})") from None


def from_pil(image: Image.Image, name: str, max_pixels: int = MAX_PIXELS, owned: bool = False,
             keep_gray: bool = False) -> np.ndarray:
    """BGR pixels of ``image`` (H, W, 3), upright by its EXIF orientation; with ``keep_gray``, a grey image
    stays grey (H, W). An ``owned`` image (decoded here, not the caller's) is rotated in place and released
    early, so that at most about 7 bytes per pixel are held at once: the decoded image (4 bytes per pixel for
    RGB), its raw bytes (3) and, once the image is released, the BGR result (3)."""
    if image.width * image.height > max_pixels:
        raise InputError(f"{name}: image is {image.width}x{image.height}, over the limit of {max_pixels:,} pixels "
                         "(the MAX_PIXELS setting, EMOLENS_MAX_PIXELS)")
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
    except Exception as exc:  # noqa: BLE001 - any failure of Pillow on a file is bad input (module docs)
        _refuse(name, exc)
    image.close()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def decode_image(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS, keep_gray: bool = False,
                 formats: Sequence[str] = IMAGE_FORMATS) -> np.ndarray:
    """Decode encoded image bytes in one of ``formats`` (Pillow names) to BGR (grey HxW with ``keep_gray``),
    checking content, not the file name.

    Raises:
        UnsupportedFormatError: content in no accepted format.
        InputError: an empty, truncated, corrupt or oversized image.
    """
    if not data:
        raise InputError(f"{name}: empty file")
    try:
        image = Image.open(io.BytesIO(data), formats=list(formats))
    except UnidentifiedImageError:  # the other formats are not even tried, so it is not named
        raise UnsupportedFormatError(f"{name}: not an image file in an accepted format (accepted: "
                                     f"{', '.join(formats)}; the IMAGE_FORMATS setting, EMOLENS_IMAGE_FORMATS, "
                                     "allows more)") from None
    except Exception as exc:  # noqa: BLE001 - any failure of Pillow on a file is bad input (module docs)
        _refuse(name, exc)
    with image:
        return from_pil(image, name, max_pixels, owned=True, keep_gray=keep_gray)
