"""What an upload leaves besides its result: the file's name, made safe to store and show, and an optional
small thumbnail of the image."""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

import cv2
import numpy as np

MAX_FILENAME = 255
"""Longest stored file name, in characters (the column's size)."""
THUMBNAIL_SIDE = 160
"""Longest side of a stored thumbnail, in pixels."""
THUMBNAIL_QUALITY = 80
_HIDDEN = {"Cc", "Cf", "Zl", "Zp"}
"""Unicode categories left out of names: control characters, format characters (such as right-to-left
overrides that disguise an extension) and line or paragraph separators."""


def clean_filename(name: Optional[str]) -> Optional[str]:
    """The base name of an uploaded file as the client named it, safe to store and show: folders (``/`` or
    ``\\``) dropped, control and format characters removed, spaces collapsed, at most :data:`MAX_FILENAME`
    characters (the end of a long stem is cut, the extension kept); None when nothing is left."""
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(" " if ch.isspace() else ch for ch in base if unicodedata.category(ch) not in _HIDDEN)
    base = re.sub(r" +", " ", unicodedata.normalize("NFC", base)).strip()
    if base in ("", ".", ".."):
        return None
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and stem and len(ext) <= 16 else ""
        base = f"{base[:MAX_FILENAME - len(ext) - 2].rstrip()}…{'.' + ext if ext else base[-1]}"
    return base


def thumbnail_jpeg(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG of a BGR image scaled so that its longer side is at most ``side`` pixels."""
    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1.0 else image
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    if not ok:
        raise ValueError("could not encode the thumbnail")
    return encoded.tobytes()
