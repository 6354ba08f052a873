"""Expanding ``emolens batch`` INPUTS (files, folders, glob patterns, manifests) into the media files to analyse.

Nothing here opens a media file: the listing stays cheap however large the collection, and every problem with
a file's content is found (and reported) by the workers.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from emolens.csvcells import read_cell
from emolens.images import IMAGE_SUFFIXES

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
"""Files with these suffixes are analysed as videos; every other file as an image."""

MANIFEST_SUFFIXES = frozenset({".txt", ".csv", ".lst"})
"""A named file with one of these suffixes is a manifest: one path per line (text), or a CSV with a ``path``
or ``source`` column (else its first column; ``problems.csv`` of a run is one). Relative paths in it are
relative to the manifest's folder."""
MANIFEST_COLUMNS = ("path", "source")

Kind = Literal["image", "video"]


def display_path(path: str) -> str:
    """``path`` as text any writer (Arrow, Parquet, CSV) takes: the bytes of a name that is not UTF-8 (names are
    bytes on Linux, and Python keeps such bytes as lone surrogates) as ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class MediaInput:
    """One file to analyse: its absolute path and whether it is a video. ``source``, the key of every output row,
    is the path as text (:func:`display_path`); ``path`` is the file's name exactly, bytes and all."""

    path: str
    kind: Kind

    @property
    def source(self) -> str:
        """The path as the text written in every output row."""
        return display_path(self.path)


@dataclass(frozen=True)
class BadInput:
    """An INPUT that names nothing to analyse (a missing path, a pattern matching nothing, an empty folder)."""

    source: str
    reason: str


def _media(path: Path) -> MediaInput:
    kind: Kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"
    return MediaInput(os.path.abspath(path), kind)


def _folder(path: Path) -> list[MediaInput]:
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    return [_media(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes]


def _manifest_entries(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as f:  # names are bytes
        if path.suffix.lower() != ".csv":
            return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
        rows = list(csv.reader(f))
    header = next((name for name in MANIFEST_COLUMNS if rows and name in rows[0]), None)
    column = rows[0].index(header) if header else 0
    rows = rows[1:] if header else rows
    return [read_cell(row[column].strip()) for row in rows if len(row) > column and row[column].strip()]


def _expand(item: str, base: Path, manifests: bool) -> tuple[list[MediaInput], list[BadInput]]:
    path = base / item
    if path.is_dir():
        found = _folder(path)
        missing = BadInput(display_path(os.path.abspath(path)), "no image or video files in this folder")
        return found, [] if found else [missing]
    if path.is_file():
        if manifests and path.suffix.lower() in MANIFEST_SUFFIXES:
            return expand_inputs(_manifest_entries(path), base=path.parent, manifests=False)
        return [_media(path)], []
    if glob.has_magic(item):
        matches = sorted(glob.glob(str(path), recursive=True))
        media, bad = expand_inputs(matches, manifests=manifests) if matches else ([], [])
        return media, bad or ([] if media else [BadInput(display_path(str(path)), "the pattern matches no file")])
    return [], [BadInput(display_path(os.path.abspath(path)), "no such file or folder")]


def expand_inputs(items: Iterable[str], base: Path = Path(), manifests: bool = True,
                  ) -> tuple[list[MediaInput], list[BadInput]]:
    """The media files named by ``items`` (each once, in the order given; folders recursively and sorted) and
    the items that name none, with the reason. Manifests are read at the top level only."""
    media: dict[str, MediaInput] = {}
    bad: list[BadInput] = []
    for item in items:
        found, missing = _expand(item, base, manifests)
        media.update((m.source, m) for m in found if m.source not in media)
        bad.extend(missing)
    return list(media.values()), bad
