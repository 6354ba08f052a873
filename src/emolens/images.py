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
from collections.abc import Iterable, Sequence
from typing import NoReturn, cast

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
_DEEP_GRAY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_GRAY_MODES = _DEEP_GRAY_MODES | {"1", "L", "LA"}
_STRIP_BYTES = 1 << 20
"""Images are converted to uint8 BGR a strip of rows of about this many bytes (at 4 bytes a pixel) at a time."""


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


def _deep_scale(image: Image.Image) -> float:
    """The factor that maps a deep grey image to 0..255. Pillow would clip 16-bit values to 255: they are scaled
    from their full range instead, and 32-bit integer or float images by their maximum."""
    if image.mode.startswith("I;16"):
        top = 65535.0
    else:
        top = float(cast("tuple[float, float]", image.getextrema())[1])  # one band: (min, max)
    return 255.0 / max(top, 1.0) if math.isfinite(top) else 0.0  # NaN or infinite maximum: black


def _strip(image: Image.Image, box: tuple[int, int, int, int], alpha: float) -> np.ndarray:
    """Rows of ``image`` as uint8: grey (H, W) for a grey image, else RGB (H, W, 3)."""
    part = image.crop(box)
    if part.mode in _DEEP_GRAY_MODES:
        deep = np.asarray(part)
        return cv2.convertScaleAbs(deep.astype(deep.dtype.newbyteorder("="), copy=False), alpha=alpha)
    return np.asarray(part.convert("L" if part.mode in _GRAY_MODES else "RGB"))


def _pixels(image: Image.Image) -> np.ndarray:
    """uint8 pixels of ``image``, grey (H, W) for a grey image, else BGR (H, W, 3), converted a strip of rows at a
    time into the result: besides Pillow's image only the result and one strip are held (no full-size raw,
    converted or float copy)."""
    width, height = image.size
    gray = image.mode in _GRAY_MODES
    alpha = _deep_scale(image) if image.mode in _DEEP_GRAY_MODES else 1.0
    out = np.empty((height, width) if gray else (height, width, 3), np.uint8)
    rows = max(1, _STRIP_BYTES // (4 * width))
    for y in range(0, height, rows):
        part = _strip(image, (0, y, width, min(height, y + rows)), alpha)
        out[y:y + rows] = part if gray else cv2.cvtColor(part, cv2.COLOR_RGB2BGR)
    return out


def _too_large(name: str, size: str, max_pixels: int) -> InputError:
    return InputError(f"{name}: image is {size}, over the limit of {max_pixels:,} pixels (the MAX_PIXELS setting, "
                      "EMOLENS_MAX_PIXELS)")


def _refuse(name: str, exc: Exception, max_pixels: int) -> NoReturn:
    """Raise ``exc``, a failure of Pillow on the file ``name``, as an :class:`InputError`."""
    if isinstance(exc, (InputError, MemoryError)):
        raise exc
    if isinstance(exc, Image.DecompressionBombError):  # Pillow's own limit, above MAX_PIXELS unless it was raised
        raise _too_large(name, "a decompression bomb", max_pixels) from None
    raise InputError(f"{name}: cannot decode image, truncated or corrupt ({type(exc).__name__}: {exc})") from None


def from_pil(image: Image.Image, name: str, max_pixels: int = MAX_PIXELS, owned: bool = False,
             keep_gray: bool = False) -> np.ndarray:
    """BGR pixels of ``image`` (H, W, 3), upright by its EXIF orientation; with ``keep_gray``, a grey image
    stays grey (H, W). An ``owned`` image (decoded here, not the caller's) is rotated in place, and the pixels
    are converted into the result a strip at a time, so that at most about 7 bytes per pixel are held at once:
    for an RGB photo the decoded image (4) and the BGR result (3); for a grey one the decoded image (1 to 4: 8-bit,
    16-bit, 32-bit or float) and the grey result (1), then, the image released, the grey and BGR results (4)."""
    if image.width * image.height > max_pixels:
        raise _too_large(name, f"{image.width}x{image.height}", max_pixels)
    try:
        image.load()
        if owned:
            ImageOps.exif_transpose(image, in_place=True)
        else:
            image = ImageOps.exif_transpose(image)  # a copy: the caller's image stays as it was
        pixels = _pixels(image)
    except Exception as exc:  # noqa: BLE001 - any failure of Pillow on a file is bad input (module docs)
        _refuse(name, exc, max_pixels)
    image.close()
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR) if pixels.ndim == 2 and not keep_gray else pixels


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
        _refuse(name, exc, max_pixels)
    with image:
        return from_pil(image, name, max_pixels, owned=True, keep_gray=keep_gray)
